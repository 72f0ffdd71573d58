"""Cycles per timestep of the multi-core chip in RTL simulation, the workload split over K cores.

    python benchmarks/chip_cycles.py [--workload recurrent-256] [--cores 1 2 4] [--lanes 1 4]
                                     [--steps 1000] [--warmup 256] [--json PATH]

Builds ``SALChip`` (rtl/chip.py) with K cores of ``256 / K`` neurons and 256
axons each (history 64, the other parameters the defaults of docs/spec.md
section 2), so the chip always holds the 256 neurons of the workload and
every core sees all 256 of them as axons.  The workload is placed with
golden/chip.py ``place`` and loaded through the byte protocol; every reply,
and every step's spikes (NEURON_HIST after each 64-step RUN), is checked
against the golden emulator on the way (benchmarks/tb_chip_cycles.py).
The cycles are the RTL's RUN replies: the whole chip step, router and
barrier included.

Prints one row per (K, lanes): mean cycles per step, spikes and routed
events per step, and the speed-up over K = 1 at the same lane count.
Steps per second at a clock f are f / cycles; the board builds give f.
"""

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cocotb_tests.build import build_design  # noqa: E402
from sal_hw.golden.params import CoreParams  # noqa: E402
from sal_hw.rtl.chip import SALChip  # noqa: E402

ROUTE_ENTRIES = 1024
INJECT_DEPTH = 16


def chip_params(cores):
    return CoreParams(neurons=256 // cores, axons=256, history=64)


def measure(workload, cores, lanes, steps, warmup):
    p = chip_params(cores)
    cfg = {**dataclasses.asdict(p), "cores": cores, "lanes": lanes,
           "route_entries": ROUTE_ENTRIES, "inject_depth": INJECT_DEPTH}
    built = build_design("sal_chip", lambda: SALChip(p, cores, lanes, ROUTE_ENTRIES,
                                                     INJECT_DEPTH), "verilator", cfg)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cycles.json"
        bench = {"workload": workload, "steps": steps, "warmup": warmup, "out": str(out)}
        built.run("chip_cycles", f"bench-{workload}-{cores}-{lanes}", "tb_chip_cycles",
                  extra_env={"SAL_CHIP": json.dumps(cfg), "SAL_BENCH": json.dumps(bench)},
                  extra_path=Path(__file__).resolve().parent)
        return json.loads(out.read_text())


def summarize(result):
    rec = result["records"]
    steps = sum(r["steps"] for r in rec)
    return {"workload": result["workload"], "cores": result["cores"], "lanes": result["lanes"],
            "neurons_per_core": result["neurons"], "steps": steps,
            "cycles_per_step": sum(r["cycles"] for r in rec) / steps,
            "spikes_per_step": sum(r["spikes"] for r in rec) / steps,
            "events_per_step": sum(r["events"] for r in rec) / steps}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="recurrent-256", choices=["recurrent-256", "salnet-s"])
    ap.add_argument("--cores", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--lanes", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=256)
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    rows = []
    for lanes in args.lanes:
        for cores in args.cores:
            print(f"  building and running K={cores}, lanes={lanes} ...", flush=True)
            row = summarize(measure(args.workload, cores, lanes, args.steps, args.warmup))
            rows.append(row)
            print(f"  K={cores} lanes={lanes}: {row['cycles_per_step']:,.0f} cycles/step",
                  flush=True)
    base = {r["lanes"]: r["cycles_per_step"] for r in rows if r["cores"] == min(args.cores)}
    print(f"\n{args.workload}, {args.steps} steps after {args.warmup} warm-up steps, every "
          f"step's spikes checked against the golden emulator\n")
    print("| cores K | neurons/core | lanes | cycles/step | spikes/step | routed events/step "
          "| speed-up vs K=1 | steps/s at 100 MHz |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['cores']} | {r['neurons_per_core']} | {r['lanes']} | "
              f"{r['cycles_per_step']:,.0f} | {r['spikes_per_step']:.1f} | "
              f"{r['events_per_step']:.1f} | {base[r['lanes']] / r['cycles_per_step']:.2f} | "
              f"{1e8 / r['cycles_per_step']:,.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
