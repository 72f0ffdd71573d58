"""cocotb bench of the chip (rtl/chip.py): cycles per step of a workload split over K cores.

Run by benchmarks/chip_cycles.py.  Loads the workload's placement through the
protocol (every reply checked against the golden emulator by tb_chip.Link),
runs a warm-up, then RUNs of ``history`` steps, reading every core's
NEURON_HIST after each (so every step's spikes are compared with the golden
model).  The cycles are the RTL's own RUN replies.  Environment: SAL_CHIP
(as tb_chip), SAL_BENCH (JSON: workload, steps, warmup, out).
"""

import json
import os
import random

import cocotb

from sal_hw.golden.chip import place
from sal_hw.golden.network import layered, recurrent
from sal_hw.golden.protocol import Run
from sal_hw.golden.spaces import Space
from tb_chip import ChipConfig, Link

WORKLOADS = {
    "salnet-s": lambda: layered([64, 64, 32, 10], tau=10, eta=0.05, seed=1),
    "recurrent-256": lambda: recurrent(256, tau=10, eta=0.05, seed=1),
}


@cocotb.test()
async def chip_cycles(dut):
    cfg = ChipConfig()
    bench = json.loads(os.environ["SAL_BENCH"])
    net = WORKLOADS[bench["workload"]]()
    pl = place(net, cfg.p, cfg.K, apply_period=1000)
    link = Link(dut, cfg, random.Random(1), stall=0.0)
    await link.start()
    await link.load(pl.chip(route_entries=cfg.D, inject_depth=cfg.Q, lanes=cfg.lanes))
    H = cfg.p.history
    records = []
    for phase, steps in (("warmup", bench["warmup"]), ("measure", bench["steps"])):
        done = 0
        while done < steps:
            chunk = min(H, steps - done)
            routed = link.emu.chip.events_routed
            spikes = sum(sum(c.read(Space.SPIKE_COUNT)) for c in link.emu.chip.cores)
            await link.call(Run(chunk), timeout_cycles=200_000 * chunk)
            for c in range(cfg.K):
                await link.read_space(c, Space.NEURON_HIST)
            if phase == "measure":
                emu = link.emu.chip
                records.append({
                    "steps": chunk, "cycles": link.run_cycles[-1],
                    "events": emu.events_routed - routed,
                    "spikes": sum(sum(c.read(Space.SPIKE_COUNT)) for c in emu.cores) - spikes})
            done += chunk
    with open(bench["out"], "w") as f:
        json.dump({"workload": bench["workload"], "cores": cfg.K, "lanes": cfg.lanes,
                   "neurons": cfg.p.neurons, "axons": cfg.p.axons, "records": records}, f)
