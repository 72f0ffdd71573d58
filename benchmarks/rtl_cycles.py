"""Cycles per timestep of the SAL core in RTL simulation (Verilator), per workload and lane count.

    python benchmarks/rtl_cycles.py [--workloads salnet-s recurrent-256] [--lanes 1 2 4 8]
                                    [--steps 1000] [--warmup 500] [--json PATH]

Builds the default core (256 neurons, 256 axons, history 64; docs/spec.md
section 2) at each lane count, loads the workload, and runs single steps
(benchmarks/tb_cycles.py): the cycles come from the core's own RUN
response, the synaptic operations from the golden model's events, and every
step's spikes are checked against the golden model on the way.

The datapath target (issue 3): mean cycles per step at most
1.25 x (synaptic operations / lanes) + 2 x neurons.  Exits 1 if a row
misses it.  Steps per second at a given clock are cycles turned into time;
the board builds supply the clock (docs/boards.md).
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cocotb_tests.build import build_core  # noqa: E402
from sal_hw.golden.params import CoreParams  # noqa: E402


def measure(workload, lanes, steps, warmup):
    built = build_core(CoreParams(), lanes, "verilator")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cycles.json"
        bench = {"workload": workload, "steps": steps, "warmup": warmup, "out": str(out)}
        built.run("cycles", f"bench-{workload}", extra_env={"SAL_BENCH": json.dumps(bench)},
                  test_module="tb_cycles", extra_path=Path(__file__).resolve().parent)
        return json.loads(out.read_text())


def summarize(result):
    rec = result["records"]
    cycles = np.array([r["cycles"] for r in rec], dtype=float)
    synops = np.array([r["synops"] for r in rec], dtype=float)
    lanes, n = result["lanes"], result["neurons"]
    bound = 1.25 * synops.mean() / lanes + 2 * n
    return {
        "workload": result["workload"], "lanes": lanes, "steps": len(rec),
        "cycles_mean": cycles.mean(), "cycles_max": cycles.max(),
        "synops_mean": synops.mean(), "spikes_mean": np.mean([r["spikes"] for r in rec]),
        "applies": int(sum(r["apply"] for r in rec)),
        "bound": bound, "pass": bool(cycles.mean() <= bound),
        "efficiency": synops.mean() / lanes / max(cycles.mean() - 2 * n, 1),
        "steps_per_s_100MHz": 1e8 / cycles.mean(),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", nargs="+", default=["salnet-s", "recurrent-256"])
    ap.add_argument("--lanes", nargs="+", type=int, default=[1, 2, 4, 8])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = []
    for workload in args.workloads:
        for lanes in args.lanes:
            t0 = time.monotonic()
            row = summarize(measure(workload, lanes, args.steps, args.warmup))
            row["seconds"] = round(time.monotonic() - t0, 1)
            rows.append(row)
            print(f"  {workload} lanes {lanes}: {row['cycles_mean']:.0f} cycles/step "
                  f"({row['seconds']} s)", file=sys.stderr, flush=True)
    print(f"core: 256 neurons, 256 axons, history 64; {args.steps} single steps after "
          f"{args.warmup} warm-up steps (apply every 1000)")
    print("| workload | lanes | cycles/step (mean) | max | synaptic ops/step | spikes/step "
          "| bound 1.25·ops/L + 2N | result | steps/s at 100 MHz |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in rows:
        print(f"| {r['workload']} | {r['lanes']} | {r['cycles_mean']:,.0f} | "
              f"{r['cycles_max']:,.0f} | {r['synops_mean']:,.0f} | {r['spikes_mean']:.1f} | "
              f"{r['bound']:,.0f} | {'PASS' if r['pass'] else 'FAIL'} | "
              f"{r['steps_per_s_100MHz']:,.0f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
