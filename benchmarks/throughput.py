"""Throughput of a board build: its clock × the chip's cycles per step, against the ceiling.

    python benchmarks/throughput.py --report out/boards/ulx3s-85f/report.json \
        --cycles out/chip_cycles_salnet.json out/chip_cycles_recurrent.json
    python benchmarks/throughput.py --board ulx3s-85f --clock 100 --cycles ...   # a projection

Inputs: a board ``report.json`` (``sal-hw build``: the core clock and
whether it met timing), or ``--board`` with ``--clock`` for a projection at
a clock no build has met (the output says so) and the rows of ``benchmarks/chip_cycles.py --json``
for the board's chip shape (cycles per step measured in RTL simulation, every
step checked against the golden model).  Synaptic operations per step are
counted with the golden chip on the same placement: per core, the synapse
words the step's walks touch, ``N·(spiking axons + ending PSPs) + A·spiking
neurons − spiking neurons·spiking axons``, plus ``A·N`` on an apply step
(benchmarks/tb_cycles.py counts the same for one core).

Prints steps/s and synaptic operations/s per workload, the physical
ceiling (block-RAM ports: ``cores × lanes`` synapse words per cycle at the
clock), how close the design gets, the comparison with tinyODIN built with
the same flow (≈ 20 M synaptic operations/s), and the largest network the
board holds.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sal_hw.golden.chip import place  # noqa: E402
from sal_hw.golden.params import CoreParams  # noqa: E402
from sal_hw.golden.spaces import Config, Space  # noqa: E402

TINYODIN_SOPS = 39.5e6 / 2     # 39.5 MHz, 2 cycles per synaptic operation (same flow, ECP5)
WORKLOADS = {"salnet-s": ("layered", [64, 64, 32, 10]), "recurrent-256": ("recurrent", 256)}


def synops_per_step(workload, params, cores, steps=1000, warmup=256):
    """Mean synapse words touched per chip step (all cores), golden chip, same placement."""
    from sal_hw.golden.network import layered, recurrent
    kind, arg = WORKLOADS[workload]
    net = layered(arg, tau=10, eta=0.05, seed=1) if kind == "layered" else \
        recurrent(arg, tau=10, eta=0.05, seed=1)
    chip = place(net, params, cores, apply_period=1000).chip(route_entries=1024)
    chip.run(warmup)
    N, A = params.neurons, params.axons
    total = 0
    def psp(core):   # axons with an active PSP (as benchmarks/tb_cycles.py)
        return core._window(core._aring, core.cfg[Config.TAU_SYN]).any(axis=0)

    for _ in range(steps):
        psp_before = [psp(c) for c in chip.cores]
        applies = [c.cfg[Config.APPLY_COUNT] for c in chip.cores]
        spikes = chip.step()
        for k, c in enumerate(chip.cores):
            a_spk = sum(int(w) & 1 for w in c.read(Space.AXON_HIST))   # bit 0: this step
            ends = int(np.sum(psp_before[k] & ~psp(c)))
            n_spk = int(spikes[k].sum())
            total += N * (a_spk + ends) + A * n_spk - n_spk * a_spk
            if c.cfg[Config.APPLY_COUNT] != applies[k]:
                total += A * N
    return total / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--report", type=Path, help="a board's report.json (sal-hw build)")
    src.add_argument("--board", help="a board of boards/top.py BOARDS, with --clock")
    ap.add_argument("--clock", type=float, metavar="MHZ",
                    help="with --board: the clock to project at (not a met timing)")
    ap.add_argument("--cycles", type=Path, nargs="+", required=True,
                    help="chip_cycles.py --json outputs for the board's chip shape")
    args = ap.parse_args(argv)
    if args.report:
        rep = json.loads(args.report.read_text())
    else:
        from sal_hw.boards.top import BOARDS
        if args.clock is None:
            ap.error("--board needs --clock (the clock to project at)")
        rep = {**BOARDS[args.board].describe(), "f_core_hz": args.clock * 1e6,
               "meets_timing": None, "core_fmax_mhz": None}
    K, L = rep["cores"], rep["lanes"]
    params = CoreParams(neurons=rep["neurons"], axons=rep["axons"], history=rep["history"])
    f = rep["f_core_hz"]
    met = rep["meets_timing"]
    ceiling = K * L * f
    timing = {True: "timing met", False: "timing NOT met",
              None: "a PROJECTION: no build has met this clock"}[met]
    print(f"{rep['board']}: {K} cores x {L} lanes of {params.neurons} neurons x "
          f"{params.axons} axons at {f / 1e6:.2f} MHz ({timing}; "
          f"Fmax {rep['core_fmax_mhz']} MHz)")
    print(f"physical ceiling: {K} cores x {L} synapse words a cycle x {f / 1e6:.1f} MHz = "
          f"{ceiling / 1e6:,.0f} M synaptic operations/s\n")
    print("| workload | cycles/step | steps/s | synaptic ops/step | synaptic ops/s | of ceiling "
          "| vs tinyODIN |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path in args.cycles:
        for row in json.loads(path.read_text()):
            if (row["cores"], row["lanes"], row["neurons_per_core"]) != (K, L, params.neurons):
                continue
            ops = synops_per_step(row["workload"], params, K)
            sps = f / row["cycles_per_step"]
            sops = ops * sps
            print(f"| {row['workload']} | {row['cycles_per_step']:,.0f} | {sps:,.0f} | "
                  f"{ops:,.0f} | {sops / 1e6:,.1f} M | {sops / ceiling:.1%} | "
                  f"{sops / TINYODIN_SOPS:.1f}x |")
    print(f"\nlargest network: {K * params.neurons} neurons, {K * params.neurons * params.axons:,} "
          f"synapses ({params.axons} inputs per neuron)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
