"""The ``sal-hw`` command: run a network file on a golden model, or describe it.

    sal-hw run NETWORK.yaml [--model fixed|float] [--steps N] [--seeds 1,2,3]
                            [--out DIR] [--quiet]
    sal-hw info NETWORK.yaml

Also ``python -m sal_hw.cli``.  A network file that cannot be used exits
with code 2 and its :class:`~sal_hw.netfile.NetfileError` message on stderr.
"""

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sal_hw.netfile import MODELS, NetfileError, load

__all__ = ["main", "build_parser"]

PROG = "sal-hw"


# -- argument parsing --------------------------------------------------------

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def _seed_list(text):
    seeds = []
    for part in text.split(","):
        part = part.strip()
        try:
            seed = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: {part!r} is not an integer; give seeds like 1,2,3") from None
        if seed < 0:
            raise argparse.ArgumentTypeError(f"{text!r}: seed {seed} is negative")
        if seed in seeds:
            raise argparse.ArgumentTypeError(f"{text!r}: seed {seed} is repeated")
        seeds.append(seed)
    return seeds


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="SAL neuromorphic core: run network files on the golden models.",
        epilog=f"'{PROG} COMMAND --help' describes each command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run a network's symmetrization and write plots and metrics",
        description="Run spontaneous activity with plasticity on a golden model, once per "
                    "seed, recording the angle between every forward weight matrix and its "
                    "feedback matrix. Writes angles.png, metrics.json and weights.npz into "
                    "the output folder (and weights.png when the projections are single "
                    "synapses, as in the pair).")
    run.add_argument("network", metavar="NETWORK.yaml", help="network file")
    run.add_argument("--model", choices=MODELS,
                     help="golden model: fixed (bit-exact, what the hardware does) or float "
                          "(real-valued reference); default: the file's run.model")
    run.add_argument("--steps", type=_positive_int, metavar="N",
                     help="timesteps per seed; default: the file's run.steps")
    run.add_argument("--seeds", type=_seed_list, metavar="S1,S2,...",
                     help="comma-separated seeds, one run each; default: the file's run.seeds")
    run.add_argument("--out", metavar="DIR", type=Path,
                     help="output folder; default: out/<name>/")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bar and no line per record, only the summary")
    run.set_defaults(func=cmd_run)

    info = sub.add_parser(
        "info", help="describe a network and its fixed-point quantization",
        description="Print the populations, projections and synapse count of a network file, "
                    "the fixed-point quantization errors, and whether it fits one default "
                    "core.")
    info.add_argument("network", metavar="NETWORK.yaml", help="network file")
    info.set_defaults(func=cmd_info)
    return parser


# -- measurements shared by run and info -------------------------------------

def _self_pairs(net):
    """Plastic projections from a population onto itself: their angle to their own transpose."""
    return [pr for pr in net.projections
            if pr.pre == pr.post and pr.plastic and int(pr.mask.sum()) > 1]


def _scalar_projections(net):
    """Projections of a single synapse: the angle says nothing, the weight does."""
    return [pr for pr in net.projections if int(pr.mask.sum()) == 1]


def _angles(net, weights):
    """The golden layer angles plus, for recurrent projections, the angle of W to W^T."""
    from sal_hw.golden.network import angle_deg, layer_angles
    out = layer_angles(net, weights)
    for pr in _self_pairs(net):
        out[f"{pr.name} (symmetry)"] = angle_deg(weights[pr.name], weights[pr.name])
    return out


def _angle_labels(net):
    labels = {}
    for fwd, fb in net.alignment_pairs():
        p = net.projection(fb)
        labels[fb] = f"{fb} vs {fwd}$^T$ ({p.pre}→{p.post})"
    for pr in _self_pairs(net):
        labels[f"{pr.name} (symmetry)"] = f"{pr.name} vs {pr.name}$^T$ ({pr.pre}→{pr.post})"
    return labels


def _plain(label):
    return label.replace("$^T$", "^T").replace("→", "->")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def _dump_json(obj):
    """Indented JSON with every list of numbers on one line (trajectories stay readable)."""
    text = json.dumps(_jsonable(obj), indent=1)
    return re.sub(r"\[\s*([-+0-9.eE,\s]*?|null)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]"
                  if m.group(1).strip() else "[]", text) + "\n"


def _fmt_angles(angles):
    return "  ".join(f"{k} {v:6.2f}" for k, v in angles.items())


@dataclass
class _Run:
    seed: int
    steps: list = field(default_factory=list)
    angles: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)   # single-synapse projections only
    spikes: int = 0
    rates: dict = field(default_factory=dict)
    seconds: float = 0.0
    steps_per_second: float = 0.0
    quantization: dict | None = None
    final_weights: dict = field(default_factory=dict)


# -- sal-hw run --------------------------------------------------------------

def cmd_run(args):
    from tqdm import tqdm

    from sal_hw.golden.experiment import make_model, model_weights, symmetrize
    from sal_hw.plots import plot_angles, plot_weights

    nf = load(args.network)
    model = args.model or nf.run.model
    steps = args.steps or nf.run.steps
    seeds = args.seeds or nf.run.seeds
    phase, record_every = nf.run.phase, nf.run.record_every
    out = args.out if args.out is not None else Path("out") / nf.name

    # Everything that can fail on the file fails before anything is written.
    nets = {seed: nf.build(seed) for seed in seeds}
    reports = {seed: nf.quantize(seed=seed).report for seed in seeds} if model == "fixed" else {}

    quiet = args.quiet
    runs = []
    for seed in seeds:
        net = nets[seed]
        m = make_model(net, model, phase)
        run = _Run(seed, quantization=reports.get(seed))
        scalars = _scalar_projections(net)

        def record(step, weights):
            angles = _angles(net, weights)
            run.steps.append(step)
            for k, v in angles.items():
                run.angles.setdefault(k, []).append(v)
            for pr in scalars:
                run.weights.setdefault(pr.name, []).append(float(weights[pr.name][pr.mask][0]))
            return angles

        bar = tqdm(total=steps, desc=f"seed {seed}", unit="step", unit_scale=True,
                   file=sys.stderr, disable=quiet, dynamic_ncols=True)

        def progress(step, _golden_angles):
            angles = record(step, model_weights(net, m))
            bar.set_postfix({k.split(" ")[0]: f"{v:.1f}" for k, v in angles.items()},
                            refresh=False)
            bar.update(step - bar.n)
            if not quiet:
                tqdm.write(f"seed {seed}  step {step:>{len(str(steps))}}  {_fmt_angles(angles)}",
                           file=sys.stdout)

        angles0 = record(0, model_weights(net, m))
        if not quiet:
            tqdm.write(f"seed {seed}  step {0:>{len(str(steps))}}  {_fmt_angles(angles0)}",
                       file=sys.stdout)
        t0 = time.perf_counter()
        try:
            traj, m = symmetrize(net, m, steps, phase, record_every, progress)
        finally:
            bar.close()
        run.seconds = time.perf_counter() - t0
        run.steps_per_second = steps / run.seconds if run.seconds > 0 else float("inf")
        run.spikes = traj.spikes
        counts = np.asarray(m.spike_count)
        for pop, base in net.offsets().items():
            size = net.population(pop).size
            run.rates[pop] = float(counts[base:base + size].sum()) / (size * steps)
        run.final_weights = model_weights(net, m)
        runs.append(run)

    out.mkdir(parents=True, exist_ok=True)
    net = nets[seeds[0]]
    labels = _angle_labels(net)
    title = (f"{nf.name}: {model} model, {steps} steps, "
             f"seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}")
    plot_angles({r.seed: r for r in runs}, out / "angles.png", title, labels=labels)
    written = ["angles.png"]
    if runs[0].weights:
        plot_weights({r.seed: r for r in runs}, out / "weights.png", title,
                     labels={pr.name: f"{pr.name} ({pr.pre}→{pr.post})"
                             for pr in _scalar_projections(net)})
        written.append("weights.png")
    np.savez(out / "weights.npz", **{f"{name}_seed{r.seed}": w for r in runs
                                     for name, w in r.final_weights.items()})
    written.append("weights.npz")
    metrics = {
        "name": nf.name, "kind": nf.kind, "network_file": str(nf.path), "model": model,
        "steps": steps, "phase": phase, "record_every": record_every, "seeds": seeds,
        "network": nf.params,
        "populations": {p.name: p.size for p in net.populations},
        "projections": {pr.name: {"pre": pr.pre, "post": pr.post, "rule": pr.rule,
                                  "eta": pr.eta, "synapses": int(pr.mask.sum())}
                        for pr in net.projections},
        "angle_labels": {k: _plain(v) for k, v in labels.items()},
        "runs": [{"seed": r.seed, "steps": r.steps, "angles": r.angles,
                  **({"weights": r.weights} if r.weights else {}),
                  "spikes": r.spikes,
                  "spikes_per_neuron_per_step": r.spikes / (net.size * steps),
                  "spikes_per_neuron_per_step_by_population": r.rates,
                  "seconds": r.seconds, "steps_per_second": r.steps_per_second,
                  **({"quantization": r.quantization} if r.quantization else {})}
                 for r in runs],
        "mean_angles": {k: np.mean([r.angles[k] for r in runs], axis=0)
                        for k in runs[0].angles},
    }
    (out / "metrics.json").write_text(_dump_json(metrics))
    written.append("metrics.json")

    print(_summary(nf.name, model, steps, net, runs, labels))
    print(f"\nwrote {', '.join(written)} to {out}/")
    return 0


def _table(rows, align):
    """Columns padded to width; ``align`` is a string of 'l'/'r' per column."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [str(c).ljust(w) if a == "l" else str(c).rjust(w)
                 for c, w, a in zip(r, widths, align)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _summary(name, model, steps, net, runs, labels):
    seeds = [r.seed for r in runs]
    many = len(runs) > 1
    lines = [f"{name}: {model} model, {steps} steps, {net.size} neurons, "
             f"seed{'s' * many} {', '.join(map(str, seeds))}", ""]
    keys = list(runs[0].angles)
    if keys:
        head = ["angle (degrees)", "start", "end", "change"]
        if many:
            head += [f"seed {s}" for s in seeds]
        rows = [head]
        for k in keys:
            start = np.mean([r.angles[k][0] for r in runs])
            end = np.mean([r.angles[k][-1] for r in runs])
            row = [_plain(labels.get(k, k)), f"{start:.1f}", f"{end:.1f}", f"{end - start:+.1f}"]
            if many:
                row += [f"{r.angles[k][-1]:.1f}" for r in runs]
            rows.append(row)
        lines += _table(rows, "l" + "r" * (len(head) - 1))
        if many:
            lines.append(f"(start, end, change: mean over the {len(runs)} seeds)")
    else:
        lines.append("no alignment pairs: no angles to report")
    if runs[0].weights:
        lines.append("")
        head = ["weight", "start", "end"] + ([f"seed {s}" for s in seeds] if many else [])
        rows = [head]
        for k in runs[0].weights:
            start = np.mean([r.weights[k][0] for r in runs])
            end = np.mean([r.weights[k][-1] for r in runs])
            pr = net.projection(k)
            row = [f"{k} ({pr.pre}->{pr.post})", f"{start:.4f}", f"{end:.4f}"]
            if many:
                row += [f"{r.weights[k][-1]:.4f}" for r in runs]
            rows.append(row)
        lines += _table(rows, "l" + "r" * (len(head) - 1))
    lines.append("")
    rows = [["seed", "spikes/neuron/step", "steps/s", "seconds"]]
    for r in runs:
        rows.append([str(r.seed), f"{r.spikes / (net.size * steps):.4f}",
                     f"{r.steps_per_second:.0f}", f"{r.seconds:.2f}"])
    if many:
        rows.append(["mean", f"{np.mean([r.spikes for r in runs]) / (net.size * steps):.4f}",
                     f"{np.mean([r.steps_per_second for r in runs]):.0f}",
                     f"{sum(r.seconds for r in runs):.2f} total"])
    lines += _table(rows, "lrrr")
    return "\n".join(lines)


# -- sal-hw info -------------------------------------------------------------

def cmd_info(args):
    from sal_hw.golden.params import CoreParams

    nf = load(args.network)
    net = nf.network
    print(f"{nf.name} ({nf.kind} network) from {nf.path}")
    print("  " + ", ".join(f"{k} {v}" for k, v in nf.params.items()))
    print(f"  tau_ref {net.tau_ref}, tau_syn {net.tau_syn}, kernel {len(net.kernel)} taps, "
          f"L {net.norm}")
    r = nf.run
    print(f"  run: {r.steps} steps, apply every {r.phase}, record every {r.record_every}, "
          f"{r.model} model, seed{'s' * (len(r.seeds) > 1)} {', '.join(map(str, r.seeds))}")

    print(f"\npopulations: {len(net.populations)}, {net.size} neurons")
    rows = [["name", "size", "bias min", "bias max"]]
    for p in net.populations:
        rows.append([p.name, str(p.size), f"{p.bias.min():+.4f}", f"{p.bias.max():+.4f}"])
    print("\n".join("  " + s for s in _table(rows, "lrrr")))

    synapses = sum(int(pr.mask.sum()) for pr in net.projections)
    print(f"\nprojections: {len(net.projections)}, {synapses} synapses")
    rows = [["name", "pre -> post", "shape", "synapses", "rule", "eta", "w_max"]]
    for pr in net.projections:
        rows.append([pr.name, f"{pr.pre} -> {pr.post}", "x".join(map(str, pr.weights.shape)),
                     str(int(pr.mask.sum())), pr.rule + ("" if pr.plastic else " (fixed)"),
                     f"{pr.eta:g}", f"{pr.w_max:.4f}"])
    print("\n".join("  " + s for s in _table(rows, "lllrllr")))
    pairs = [f"{fb} ~ {fwd}^T" for fwd, fb in net.alignment_pairs()]
    pairs += [f"{pr.name} ~ {pr.name}^T" for pr in _self_pairs(net)]
    print(f"  alignment measured: {', '.join(pairs) if pairs else 'none'}")

    default = CoreParams()
    fits = net.size <= default.neurons and net.size <= default.axons
    params = default if fits else None
    core = ("default core" if fits else "a core of exactly the network's size") + \
        f" ({(params or default).weight_bits}-bit weights, u_frac {default.u_frac})"
    print(f"\nfixed-point quantization on {core}:")
    try:
        image = nf.quantize(params=params)
    except NetfileError as e:
        print(f"  cannot quantize: {e.problem}")
        image = None
    if image is not None:
        rows = [["projection", "LSB", "max error", "rms error", "max/LSB", "eta error"]]
        for name, q in image.report["weights"].items():
            rows.append([name, f"{q['lsb']:.3e}", f"{q['max_abs_error']:.3e}",
                         f"{q['rms_error']:.3e}", f"{q['max_abs_error'] / q['lsb']:.2f}",
                         f"{q['eta_relative_error']:+.2%}"])
        print("\n".join("  " + s for s in _table(rows, "lrrrrr")))
        print(f"  kernel scale {image.report['kernel_scale']:g} "
              f"(kernel codes {', '.join(map(str, image.kernel[:4]))}, ...)")
    used_rules = int(image.rule_index.max()) + 1 if image is not None else None
    verdict = "yes" if fits and image is not None else "no"
    detail = (f"{net.size} of {default.neurons} neurons, {net.size} of {default.axons} axons"
              + (f", {used_rules} of {default.rules} rule-table entries" if used_rules else ""))
    print(f"\nfits a single default core: {verdict} ({detail})")
    return 0


# -- entry point -------------------------------------------------------------

def main(argv=None):
    """Run the ``sal-hw`` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except NetfileError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
