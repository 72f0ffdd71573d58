#!/usr/bin/env python3
"""salnet-s symmetrization: does B learn W^T as in the paper, on both golden models?

salnet-s is ``layered([64, 64, 32, 10], tau=10, eta=0.05)``: forward weights
W_l fixed, feedback weights B_l learning with SAL from spontaneous activity,
updates applied every 1,000 steps.  For every seed and for the float and the
bit-exact fixed-point model the angle between B_l and W_l^T is recorded every
1,000 steps.  Checks, on the mean over seeds, per layer:

* SAL, float:  40k steps in [56, 72] deg, 100k steps in [33, 47] deg
* SAL, fixed:  40k steps in [53, 75] deg, 100k steps in [30, 50] deg
* SAL off (control, ``b_rule="off"``): every recorded angle of every seed
  within 90 +- 6 deg

The authors' PyTorch reference reaches ~61-67 deg after 40k steps and
~38-42 deg after 100k; the float tolerance is +-5 deg and the fixed one
+-8 deg around that band.

    python benchmarks/symmetrization.py [--seeds 1 2 3] [--steps 100000] [--out DIR]

Prints a table with PASS/FAIL per row, writes DIR/results.json and
DIR/symmetrization.png, and exits 1 if any check fails.
"""

import os

# One BLAS thread per worker process: the workers already use every core.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from sal_hw.golden.experiment import symmetrize  # noqa: E402
from sal_hw.golden.network import layered  # noqa: E402

LAYERS = (64, 64, 32, 10)
TAU = 10
ETA = 0.05
MODELS = ("float", "fixed")

#: The authors' PyTorch reference: angle band (deg) at each checkpoint step.
REFERENCE = {40_000: (61.0, 67.0), 100_000: (38.0, 42.0)}
#: Acceptance: the reference band widened by this many degrees, per model.
TOLERANCE = {"float": 5.0, "fixed": 8.0}
#: SAL off: every angle within 90 +- this.
OFF_TOLERANCE = 6.0


def build(seed, b_rule):
    name = "salnet-s" if b_rule == "sal" else "salnet-s-off"
    return layered(list(LAYERS), tau=TAU, eta=ETA, seed=seed, b_rule=b_rule, name=name)


# -- worker side ---------------------------------------------------------------
_SLOT = None
_PROGRESS = True


def _init(lock, counter, progress):
    """Pool initializer: a tqdm row of its own for every worker."""
    global _SLOT, _PROGRESS
    tqdm.set_lock(lock)
    with counter.get_lock():
        counter.value += 1
        _SLOT = counter.value
    _PROGRESS = progress


def run_one(job):
    """One symmetrization run; returns its trajectory as plain data."""
    rule, model, seed, steps, phase, record_every = job
    net = build(seed, rule)
    label = f"{'SAL' if rule == 'sal' else 'off'} {model} seed {seed}"
    bar = tqdm(total=steps, desc=f"{label:<18}", position=_SLOT or 1, leave=False,
               unit="step", unit_scale=True, disable=not _PROGRESS, mininterval=0.5)
    last = [0]

    def progress(step, angles):
        bar.update(step - last[0])
        last[0] = step
        bar.set_postfix({k: f"{v:.1f}" for k, v in sorted(angles.items())}, refresh=False)

    t0 = time.perf_counter()
    traj, _ = symmetrize(net, model, steps=steps, phase=phase, record_every=record_every,
                         progress=progress)
    seconds = time.perf_counter() - t0
    bar.close()
    # Name every angle by its feedback projection B_l.  With SAL off neither
    # projection of a pair is plastic and the pair is keyed by the other name.
    label = {w: w if w.startswith("B") else b for w, b in net.alignment_pairs()}
    label.update({b: w if w.startswith("B") else b for w, b in net.alignment_pairs()})
    angles = {label[k]: v for k, v in traj.angles.items()}
    return {"rule": rule, "model": model, "seed": seed, "steps": traj.steps,
            "angles": angles, "spikes": traj.spikes, "seconds": seconds,
            "layers": sorted(angles)}


# -- analysis --------------------------------------------------------------------
def angle_at(run, layer, step):
    """Angle of ``layer`` at ``step`` (None if that step was not recorded)."""
    try:
        return run["angles"][layer][run["steps"].index(step)]
    except ValueError:
        return None


def evaluate(runs, seeds, steps):
    """Rows of the check table: SAL checkpoints, then the SAL-off control."""
    rows = []
    by = {(r["rule"], r["model"], r["seed"]): r for r in runs}
    layers = runs[0]["layers"]
    for model in MODELS:
        tol = TOLERANCE[model]
        for step, (lo, hi) in REFERENCE.items():
            for layer in layers:
                vals = [angle_at(by[("sal", model, s)], layer, step) for s in seeds]
                row = {"run": "SAL", "model": model, "layer": layer, "step": step,
                       "seeds": vals, "reference": [lo, hi], "accept": [lo - tol, hi + tol]}
                if step > steps or any(v is None for v in vals):
                    row.update(mean=None, result="SKIP")
                else:
                    mean = float(np.mean(vals))
                    row.update(mean=mean,
                               result="PASS" if lo - tol <= mean <= hi + tol else "FAIL")
                rows.append(row)
    for model in MODELS:
        for layer in layers:
            traces = [by[("off", model, s)]["angles"][layer] for s in seeds]
            every = np.concatenate([np.asarray(t) for t in traces])
            lo, hi = float(every.min()), float(every.max())
            ok = 90 - OFF_TOLERANCE <= lo and hi <= 90 + OFF_TOLERANCE
            rows.append({"run": "SAL off", "model": model, "layer": layer,
                         "step": by[("off", model, seeds[0])]["steps"][-1],
                         "seeds": [t[-1] for t in traces], "min": lo, "max": hi,
                         "mean": float(np.mean([t[-1] for t in traces])),
                         "accept": [90 - OFF_TOLERANCE, 90 + OFF_TOLERANCE],
                         "result": "PASS" if ok else "FAIL"})
    return rows


def agreement(runs, seeds):
    """Float vs fixed, per layer: largest and mean |difference| of the seed means."""
    out = {}
    by = {(r["rule"], r["model"], r["seed"]): r for r in runs}
    for layer in runs[0]["layers"]:
        means = {m: np.mean([by[("sal", m, s)]["angles"][layer] for s in seeds], axis=0)
                 for m in MODELS}
        d = np.abs(means["float"] - means["fixed"])
        out[layer] = {"max_abs_deg": float(d.max()), "mean_abs_deg": float(d.mean())}
    return out


def fmt_table(rows, seeds):
    head = ["run", "model", "layer", "step"] + [f"seed {s}" for s in seeds] + \
        ["mean", "accept (reference)", "result"]
    body = []
    for r in rows:
        seeds_txt = ["-" if v is None else f"{v:.1f}" for v in r["seeds"]]
        if r["run"] == "SAL":
            mean = "-" if r["mean"] is None else f"{r['mean']:.1f}"
            acc = (f"[{r['accept'][0]:.0f}, {r['accept'][1]:.0f}] "
                   f"({r['reference'][0]:.0f}-{r['reference'][1]:.0f})")
        else:
            mean = f"{r['mean']:.1f}"
            acc = f"all in [{r['accept'][0]:.0f}, {r['accept'][1]:.0f}]: {r['min']:.1f}-{r['max']:.1f}"
        body.append([r["run"], r["model"], r["layer"], f"{r['step']:,}"] + seeds_txt +
                    [mean, acc, r["result"]])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    left = {0, 1, 2, len(head) - 2, len(head) - 1}

    def line(cells):
        return "| " + " | ".join(c.ljust(w) if i in left else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    sep = "|" + "|".join("-" * (w + 1) + ("-" if i in left else ":")
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), sep] + [line(b) for b in body])


# -- plot --------------------------------------------------------------------------
def plot(runs, seeds, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.lines import Line2D

    by = {(r["rule"], r["model"], r["seed"]): r for r in runs}
    layers = runs[0]["layers"]
    colors = {"float": "tab:blue", "fixed": "tab:orange"}
    xmax = max(max(r["steps"]) for r in runs)
    box_w = 0.04 * max(xmax, 40_000)
    fig, axes = plt.subplots(1, len(layers), figsize=(4.6 * len(layers), 4.4), sharey=True)
    for ax, layer in zip(np.atleast_1d(axes), layers):
        for step, (lo, hi) in REFERENCE.items():
            if step > xmax:
                continue
            tol = TOLERANCE["float"]
            ax.add_patch(Rectangle((step - box_w / 2, lo - tol), box_w, hi - lo + 2 * tol,
                                   color="0.85", zorder=0, lw=0))
            ax.add_patch(Rectangle((step - box_w / 2, lo), box_w, hi - lo,
                                   color="0.55", zorder=1, lw=0))
        for model in MODELS:
            c = colors[model]
            for rule, ls in (("sal", "-"), ("off", "--")):
                series = [by[(rule, model, s)] for s in seeds]
                x = np.asarray(series[0]["steps"]) / 1000
                ys = [np.asarray(r["angles"][layer]) for r in series]
                for y in ys:
                    ax.plot(x, y, ls, color=c, lw=0.7, alpha=0.35, zorder=2)
                ax.plot(x, np.mean(ys, axis=0), ls, color=c, lw=2.2 if rule == "sal" else 1.4,
                        zorder=3)
        ax.set_title(f"{layer} vs W{layer[1:]}$^T$")
        ax.set_xlabel("step (thousands)")
        ax.set_xlim(0, (xmax + box_w) / 1000)
        ax.set_ylim(25, 100)
        ax.axhline(90, color="0.3", lw=0.6, ls=":", zorder=1)
        ax.grid(alpha=0.3)
        # Rectangles were drawn in step units; rescale them to thousands.
        for p in ax.patches:
            p.set_x(p.get_x() / 1000)
            p.set_width(p.get_width() / 1000)
    np.atleast_1d(axes)[0].set_ylabel("angle (degrees)")
    handles = [Line2D([], [], color=colors["float"], lw=2.2, label="float, SAL"),
               Line2D([], [], color=colors["fixed"], lw=2.2, label="fixed-point, SAL"),
               Line2D([], [], color="0.4", lw=1.4, ls="--", label="dashed: SAL off (control)"),
               Patch(color="0.55", label="PyTorch reference band"),
               Patch(color="0.85", label="float acceptance (±5°)")]
    fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False)
    fig.suptitle(f"salnet-s 64-64-32-10: B vs Wᵀ, mean of seeds {', '.join(map(str, seeds))} "
                 f"(thin: single seeds)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- main --------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=100_000, help="steps of the SAL runs")
    ap.add_argument("--control-steps", type=int, default=40_000,
                    help="steps of the SAL-off control runs")
    ap.add_argument("--phase", type=int, default=1000, help="apply every this many steps")
    ap.add_argument("--record-every", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", default="out/symmetrization", help="output directory")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.control_steps < 1 or args.phase < 1 or args.record_every < 1:
        ap.error("--steps, --control-steps, --phase and --record-every must be >= 1")
    for step in REFERENCE:
        if step <= args.steps and step % args.record_every:
            ap.error(f"--record-every must divide the checkpoint {step}")
    seeds = list(dict.fromkeys(args.seeds))

    jobs = [(rule, model, s, n, args.phase, args.record_every)
            for rule, n in (("sal", args.steps), ("off", args.control_steps))
            for model in MODELS for s in seeds]
    # Longest first (fixed is the slower model) so the two workers finish together.
    jobs.sort(key=lambda j: -j[3] * (1.8 if j[1] == "fixed" else 1.0))

    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"salnet-s {'-'.join(map(str, LAYERS))} symmetrization, tau={TAU}, eta={ETA}, "
          f"apply every {args.phase} steps; seeds {seeds}; SAL {args.steps:,} steps, "
          f"SAL off {args.control_steps:,} steps; {len(jobs)} runs on {args.workers} workers")
    print(f"date {stamp}")
    sys.stdout.flush()

    t0 = time.perf_counter()
    progress = not args.no_progress
    ctx = mp.get_context("spawn" if sys.platform == "darwin" else "fork")
    counter = ctx.Value("i", 0)
    lock = ctx.RLock()
    tqdm.set_lock(lock)
    with ctx.Pool(args.workers, initializer=_init, initargs=(lock, counter, progress)) as pool:
        runs = []
        with tqdm(total=len(jobs), desc="runs done", position=0, unit="run",
                  disable=not progress) as overall:
            for r in pool.imap_unordered(run_one, jobs):
                runs.append(r)
                overall.update(1)
    wall = time.perf_counter() - t0
    runs.sort(key=lambda r: (r["rule"] != "sal", MODELS.index(r["model"]), r["seed"]))

    rows = evaluate(runs, seeds, args.steps)
    agree = agreement(runs, seeds)
    failed = [r for r in rows if r["result"] == "FAIL"]

    print()
    print(fmt_table(rows, seeds))
    print()
    print("angles in degrees between B_l and W_l^T; mean over seeds is checked. Reference "
          "(authors' PyTorch): 61-67 at 40k, 38-42 at 100k;")
    print(f"accept: float +-{TOLERANCE['float']:.0f}, fixed +-{TOLERANCE['fixed']:.0f} around it; "
          f"SAL off: every recorded angle in 90 +- {OFF_TOLERANCE:.0f}")
    print("float vs fixed (seed means, over the whole SAL run): " + ", ".join(
        f"{k} max {v['max_abs_deg']:.1f} / mean {v['mean_abs_deg']:.1f} deg"
        for k, v in agree.items()))
    print(f"wall time {wall:.0f} s for {len(jobs)} runs on {args.workers} workers")

    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, "symmetrization.png")
    plot(runs, seeds, png)
    out = os.path.join(args.out, "results.json")
    with open(out, "w") as f:
        json.dump({"date": stamp, "command": " ".join([os.path.basename(sys.argv[0])] +
                                                      sys.argv[1:]),
                   "network": {"layers": LAYERS, "tau": TAU, "eta": ETA},
                   "args": vars(args), "seeds": seeds,
                   "reference_deg": {str(k): v for k, v in REFERENCE.items()},
                   "tolerance_deg": TOLERANCE, "off_tolerance_deg": OFF_TOLERANCE,
                   "checks": rows, "float_vs_fixed": agree,
                   "passed": not failed, "wall_seconds": wall,
                   "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                               "numpy": np.__version__},
                   "runs": runs}, f, indent=1)
    print(f"wrote {out} and {png}")
    n_pass = sum(r["result"] == "PASS" for r in rows)
    n_skip = sum(r["result"] == "SKIP" for r in rows)
    print(f"{'FAIL' if failed else 'PASS'}: {n_pass} passed, {len(failed)} failed"
          + (f", {n_skip} skipped (run shorter than the checkpoint)" if n_skip else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
