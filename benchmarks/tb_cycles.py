"""cocotb module of benchmarks/rtl_cycles.py: cycles per timestep of the simulated core.

Loads a reference workload into the core and the golden model, runs warm-up
steps, then single steps, recording the cycles of each (the RUN response)
and the synaptic operations the step needed, counted from the golden
model's events:

    rows     spiking axons + PSPs that end        (a row walk each, N synapses)
    columns  spiking neurons                       (a column walk each, A synapses,
                                                    minus the axons that spiked: done by rows)
    apply    A * N synapses on an apply step

Every step's spikes are also compared with the golden model, so the numbers
come from a core that computes the right thing.  Configuration in SAL_BENCH
(JSON: workload, steps, warmup, out).
"""

import json
import os

import numpy as np

import cocotb

from sal_hw.golden.fixed import FixedCore
from sal_hw.golden.network import layered, recurrent
from sal_hw.golden.quantize import quantize
from sal_hw.golden.spaces import Config

from tb_core import TB

WORKLOADS = {
    "salnet-s": lambda: layered([64, 64, 32, 10], tau=10, eta=0.05, seed=1),
    "recurrent-256": lambda: recurrent(256, tau=10, eta=0.05, seed=1),
}


def _psp(golden):
    return golden._window(golden._aring, golden.cfg[Config.TAU_SYN]).any(axis=0)


@cocotb.test()
async def cycles(dut):
    bench = json.loads(os.environ["SAL_BENCH"])
    tb = TB(dut)
    tb.watchdog = 100_000_000   # the warm-up is one long RUN
    await tb.start()
    p = tb.p
    golden = FixedCore(quantize(WORKLOADS[bench["workload"]](), params=p, apply_period=1000))
    await tb.load_golden(golden)
    warm = bench["warmup"]
    data, err = await tb.run(warm)
    assert not err
    golden.run(warm)
    N, A = p.neurons, p.axons
    records = []
    for t in range(bench["steps"]):
        psp_before = _psp(golden)
        applies = golden.cfg[Config.APPLY_COUNT]
        spikes = golden.step()
        axon_spikes = golden.local_axon_spikes(spikes)
        ends = int(np.sum(psp_before & ~_psp(golden)))
        cyc, err = await tb.run(1)
        assert not err
        got = await tb.read_spikes()
        assert np.array_equal(got, spikes), f"step {warm + t}: spikes differ from golden"
        n_spk, a_spk = int(spikes.sum()), int(axon_spikes.sum())
        applied = golden.cfg[Config.APPLY_COUNT] != applies
        synops = N * (a_spk + ends) + A * n_spk - n_spk * a_spk + (A * N if applied else 0)
        records.append({"cycles": int(cyc), "spikes": n_spk, "axon_spikes": a_spk,
                        "ends": ends, "apply": bool(applied), "synops": synops})
    with open(bench["out"], "w") as f:
        json.dump({"workload": bench["workload"], "lanes": tb.lanes, "neurons": N, "axons": A,
                   "warmup": warm, "records": records}, f)
