"""ChipModel and run_schedule (sal_hw/chiprun.py): the chip seen like a golden model."""

import numpy as np

from sal_hw.chiprun import ChipModel, open_chip, run_schedule
from sal_hw.compiler import compile_network
from sal_hw.golden.network import recurrent
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import ChipInfo
from sal_hw.netfile import Action

INFO = ChipInfo(cores=2, params=CoreParams(neurons=16, axons=32, history=16), lanes=1,
                route_entries=256, inject_depth=32)


def network():
    net = recurrent(n=24, tau=4, eta=0.5, seed=5)
    net.kernel = net.kernel[:16]
    return net


def test_raster_spike_counts_and_weights_match_the_golden_chip():
    compiled = compile_network(network(), INFO, apply_period=30)
    ref = compiled.chip()
    model = ChipModel(open_chip("golden", INFO), compiled)
    spikes = model.run(100)
    raster = ref.run(100)
    glob = compiled.placement.global_spikes(raster)          # (steps, neurons)
    assert np.array_equal(spikes, glob.sum(axis=0))
    assert np.array_equal(model.raster(), glob[-16:])
    assert glob.sum() > 50
    words = [ref.cores[c].read(1) for c in range(2)]
    assert np.array_equal(model.weights("R"), compiled.weights_of(words, "R"))


def test_schedule_records_injects_and_applies():
    compiled = compile_network(network(), INFO, apply_period=0)
    chip = open_chip("golden", INFO)
    chip.run(7)                                   # a used chip: its step counter is not 0
    model = ChipModel(chip, compiled, from_reset=False)
    assert model.base_step == 7
    steps = []
    schedule = [Action("run", 0, steps=25), Action("inject", 25, population="N",
                                                    neurons=(0, 1), at=27),
                Action("apply", 25), Action("read", 25, what="weights"),
                Action("run", 25, steps=15)]
    run_schedule(model, schedule, 10, steps.append)
    assert steps == [0, 10, 20, 25, 30, 40]
    status = chip.status()
    assert status.step == 7 + 40 and status.inject_pending == 0
    # the injected events arrived (two neurons' spikes reach their axons on every core)
    targets = compiled.inject_targets("N", (0, 1))
    assert sum(len(a) for a in targets.values()) == chip.read(0xFF, 2, 2, 1)[0]
    assert chip.read(0, 0, 6, 1)[0] == 1         # CONFIG APPLY_COUNT: the schedule's apply
