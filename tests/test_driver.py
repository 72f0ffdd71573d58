"""The host driver (sal_hw/driver.py) on the golden backend: loads, runs, reads, retries.

The reference is a FixedChip stepped directly (no protocol): after the same
load and run, every space read through the driver must equal it, also over
a link that corrupts, drops and inserts bytes in both directions.
"""

import random

import numpy as np
import pytest

from sal_hw.driver import Chip, ChipError, LinkError, LoadError
from sal_hw.golden.chip import ChipSpace, place
from sal_hw.golden.network import recurrent
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import CHIP, Reason
from sal_hw.golden.spaces import Space

P = CoreParams(neurons=16, axons=32, history=16)
K = 2


def source_chip():
    net = recurrent(n=24, tau=4, eta=0.5, seed=5)
    net.kernel = net.kernel[:P.history]
    return place(net, P, K, apply_period=20).chip(route_entries=256, inject_depth=32)


def open_golden(**kw):
    return Chip.open("golden", params=P, cores=K, route_entries=256, inject_depth=32, **kw)


def check_same(chip, ref):
    for c in range(K):
        for sp in Space:
            assert chip.read(c, sp) == list(ref.cores[c].read(sp)), (c, sp)
    for cs in (ChipSpace.ROUTE_INDEX, ChipSpace.ROUTE_DEST):
        assert chip.read(CHIP, cs) == ref.read(cs)


def drive(chip, ref, steps=120):
    chip.load(ref)
    chip.inject(3, 1, [0, 5, 5])
    ref.inject(3, 1, [0, 5, 5])
    for chunk in (1, 7, 40, steps - 48):
        step, _ = chip.run(chunk)
        ref.run(chunk)
        assert step == ref.step_count
    chip.apply()
    ref.apply()
    status = chip.status()
    assert status.step == steps and status.events_routed == ref.events_routed > 0


def test_golden_backend_matches_the_model():
    ref = source_chip()
    with open_golden() as chip:
        assert chip.info.cores == K and chip.info.params == P
        drive(chip, ref)
        check_same(chip, ref)
        assert chip.resends == 0


class LossyLink:
    """Damages bytes: flips, drops and inserts with the given probabilities per frame."""

    def __init__(self, seed, p=0.15):
        self.rng = random.Random(seed)
        self.p = p
        self.damaged = 0

    def __call__(self, data, direction):
        if not data or self.rng.random() >= self.p:
            return data
        self.damaged += 1
        d = bytearray(data)
        kind = self.rng.choice(["flip", "drop", "insert", "cut"])
        i = self.rng.randrange(len(d))
        if kind == "flip":
            d[i] ^= 1 << self.rng.randrange(8)
        elif kind == "drop":
            del d[i]
        elif kind == "insert":
            d.insert(i, self.rng.randrange(256))
        else:
            d = d[:i]
        return bytes(d)


@pytest.mark.parametrize("seed", range(3))
def test_lossy_link_still_exact(seed):
    ref = source_chip()
    link = LossyLink(seed)
    with open_golden(link=link, timeout=0.01, retries=20) as chip:
        drive(chip, ref)
        check_same(chip, ref)
        assert link.damaged > 10 and chip.resends > 0
        # the chip ran each request once: its step counter is exactly the reference's
        assert chip.status().step == ref.step_count


def test_chip_error_changes_nothing():
    ref = source_chip()
    with open_golden() as chip:
        chip.load(ref)
        with pytest.raises(ChipError) as e:
            chip.write(0, Space.SEED, 0, [0])
        assert e.value.reason == Reason.BAD_VALUE
        with pytest.raises(ChipError) as e:
            chip.read(5, Space.WEIGHT, 0, 1)
        assert e.value.reason == Reason.BAD_CORE
        check_same(chip, ref)


def test_dead_link_gives_up_with_a_clear_error():
    with open_golden(link=lambda data, direction: b"", timeout=0.001, retries=3) as chip:
        with pytest.raises(LinkError, match="no valid reply .* after 3 attempts"):
            chip.status()


def test_load_verification_catches_a_bad_load():
    ref = source_chip()
    with open_golden() as chip:
        chip.load(ref)
        other = source_chip()
        nonzero = int(np.flatnonzero(other.cores[1].read(Space.WEIGHT))[0])
        other.cores[1].write(Space.WEIGHT, nonzero, [0])
        # from_reset skips the 0 as if the chip were fresh: the old weight stays, the CRC tells
        with pytest.raises(LoadError, match="core 1 space 1"):
            chip.load(other, from_reset=True)
        chip.load(other, from_reset=False)      # the full load fixes it
        assert chip.read(1, Space.WEIGHT, nonzero, 1) == [0]


def test_load_refuses_a_chip_of_another_shape():
    with open_golden() as chip:
        other = place(recurrent(n=8, tau=4, eta=0.5, seed=1), P, 1).chip()
        with pytest.raises(ValueError, match="compiled for 1 cores"):
            chip.load(other)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'fpga'"):
        Chip.open("fpga")
    with pytest.raises(ValueError, match="needs a port"):
        Chip.open("serial")


def test_reads_are_numpy_friendly():
    ref = source_chip()
    with open_golden() as chip:
        chip.load(ref)
        w = np.array(chip.read(0, Space.WEIGHT)).reshape(P.axons, P.neurons)
        assert np.array_equal(w, np.array(ref.cores[0].read(Space.WEIGHT)).reshape(w.shape))
