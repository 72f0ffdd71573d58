#!/usr/bin/env python3
"""Golden-model speed: timesteps per second on one CPU thread.

Workloads (apply every 1,000 steps, learning on):

* salnet-s      ``layered([64, 64, 32, 10], tau=10, eta=0.05)``  170 neurons
* recurrent-256 ``recurrent(256)``                                 256 neurons

each on the bit-exact fixed-point model (``FixedCore``) and the float
reference (``FloatModel``).  After a warm-up, ``--steps`` steps are timed
``--repeats`` times; the best and the median are reported in steps/s, with
synaptic events per second (spikes x fan-out) for context.

    python benchmarks/golden_speed.py [--steps 20000] [--repeats 3] [--json PATH]

Target: salnet-s fixed-point >= 5,000 steps/s.  For comparison, the authors'
PyTorch reference runs salnet-s at ~570-750 steps/s single-threaded.
"""

import os

# One thread, set before numpy (and so OpenBLAS) is imported by anything.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from sal_hw.golden.experiment import make_model  # noqa: E402
from sal_hw.golden.network import layered, recurrent  # noqa: E402

#: salnet-s fixed-point target, steps/s
TARGET = 5_000
#: the authors' PyTorch reference on salnet-s, single-threaded, steps/s
REFERENCE = (570, 750)

WORKLOADS = {
    "salnet-s": lambda: layered([64, 64, 32, 10], tau=10, eta=0.05),
    "recurrent-256": lambda: recurrent(256),
}
MODELS = ("fixed", "float")
PHASE = 1000


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def os_threads():
    """Threads of this process (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def blas_threads():
    """How the single-thread setting was verified, as a short text."""
    # Make sure BLAS is loaded and has had a chance to start its pool.
    a = np.ones((256, 256))
    _ = a @ a
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threads = os_threads()
        extra = f"; process has {threads} OS thread(s) after a BLAS call" if threads else ""
        return ("threadpoolctl not installed: OPENBLAS/OMP/MKL_NUM_THREADS=1 set before "
                f"importing numpy{extra}")
    pools = [f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()]
    return "threadpoolctl: " + (", ".join(pools) or "no thread pools")


def blas_name():
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{deps.get('name', '?')} {deps.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


def machine():
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_name(),
        "threads": blas_threads(),
        "platform": platform.platform(),
    }


def fan_out(net):
    """Outgoing synapses of every neuron (global index)."""
    out = np.zeros(net.size, dtype=np.int64)
    offs = net.offsets()
    for pr in net.projections:
        o = offs[pr.pre]
        out[o:o + pr.weights.shape[1]] += pr.mask.sum(axis=0)
    return out


def bench(name, model, steps, repeats, warmup):
    net = WORKLOADS[name]()
    fo = fan_out(net)
    m = make_model(net, model, PHASE)
    m.run(warmup)
    reps = []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        raster = m.run(steps)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        spikes = int(raster.sum())
        events = int(raster.sum(axis=0) @ fo)
        reps.append({"seconds": wall, "cpu_seconds": cpu, "steps_per_s": steps / wall,
                     "spikes": spikes, "synaptic_events": events,
                     "events_per_s": events / wall})
    rates = [r["steps_per_s"] for r in reps]
    best = max(reps, key=lambda r: r["steps_per_s"])
    return {
        "workload": name, "model": model, "neurons": net.size,
        "synapses": int(fo.sum()), "steps": steps, "repeats": repeats, "warmup": warmup,
        "best_steps_per_s": max(rates), "median_steps_per_s": statistics.median(rates),
        "best_us_per_step": 1e6 / max(rates),
        "spikes_per_step": best["spikes"] / steps,
        "best_events_per_s": best["events_per_s"],
        "cpu_percent": 100 * sum(r["cpu_seconds"] for r in reps) / sum(r["seconds"] for r in reps),
        "runs": reps,
    }


def fmt_table(results):
    head = ("workload", "model", "neurons", "synapses", "best steps/s", "median steps/s",
            "us/step", "spikes/step", "syn. events/s", "CPU %")
    rows = [(r["workload"], r["model"], f"{r['neurons']}", f"{r['synapses']:,}",
             f"{r['best_steps_per_s']:,.0f}", f"{r['median_steps_per_s']:,.0f}",
             f"{r['best_us_per_step']:.1f}", f"{r['spikes_per_step']:.2f}",
             f"{r['best_events_per_s'] / 1e6:.2f} M", f"{r['cpu_percent']:.0f}")
            for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    left = {0, 1}

    def line(cells):
        return "| " + " | ".join(c.ljust(w) if i in left else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ("-" if i in left else ":")) for i, w in
                         enumerate(widths)) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in rows])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20_000, help="timed steps per repeat")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats (best and median)")
    ap.add_argument("--warmup", type=int, default=2_000, help="untimed steps first")
    ap.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    ap.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if salnet-s fixed-point is below the target")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        ap.error("--steps and --repeats must be >= 1, --warmup >= 0")

    info = machine()
    load0 = os.getloadavg()
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"golden-model speed, one CPU thread, {args.steps:,} steps x {args.repeats} "
          f"repeats after {args.warmup:,} warm-up steps, apply every {PHASE} steps")
    print(f"date     {stamp}")
    print(f"machine  {info['cpu']}, {info['cores']} cores; Python {info['python']}, "
          f"numpy {info['numpy']} ({info['blas']})")
    print(f"threads  {info['threads']}")
    print(f"load     {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} (1/5/15-min average, at start)")
    print()

    results = []
    for w in args.workloads:
        for m in args.models:
            print(f"  timing {w} / {m} ...", file=sys.stderr, flush=True)
            results.append(bench(w, m, args.steps, args.repeats, args.warmup))
    load1 = os.getloadavg()

    print(fmt_table(results))
    print()
    print("steps/s: whole timesteps per wall-clock second (fire, learn, apply every "
          f"{PHASE} steps);")
    print("syn. events/s: spikes x fan-out per second, best repeat; CPU %: process CPU time / "
          "wall time (100 = one full core)")
    print(f"load     {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} (at end)")
    print()
    target = next((r for r in results if r["workload"] == "salnet-s" and r["model"] == "fixed"),
                  None)
    print(f"target   salnet-s fixed-point >= {TARGET:,} steps/s; the authors' PyTorch reference "
          f"runs ~{REFERENCE[0]}-{REFERENCE[1]} steps/s single-threaded")
    ok = True
    if target:
        ok = target["best_steps_per_s"] >= TARGET
        print(f"result   salnet-s fixed-point {target['best_steps_per_s']:,.0f} steps/s (best), "
              f"{target['median_steps_per_s']:,.0f} (median): "
              f"{'MEETS' if ok else 'BELOW'} target, "
              f"{target['best_steps_per_s'] / REFERENCE[1]:.0f}-"
              f"{target['best_steps_per_s'] / REFERENCE[0]:.0f}x the PyTorch reference")

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"date": stamp, "machine": info, "load_start": load0, "load_end": load1,
                       "phase": PHASE, "target_steps_per_s": TARGET,
                       "pytorch_reference_steps_per_s": REFERENCE, "meets_target": ok,
                       "results": results}, f, indent=2)
        print(f"wrote    {args.json}")
    return 1 if (args.check and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
