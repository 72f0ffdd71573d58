"""The multi-core chip model: lock-step cores, the router, the inject queue, placement.

docs/spec.md section 3 (the step, route = step 3) and docs/protocol.md
("Chip-level spaces") are the contract checked here.
"""

import numpy as np
import pytest

from sal_hw.golden.chip import (MAX_CORES, AccessError, ChipSpace, FixedChip, Status,
                                empty_image, pack_route_dest, pack_route_index, place,
                                single_core_routes, unpack_route_dest, unpack_route_index)
from sal_hw.golden.fixed import FixedCore
from sal_hw.golden.network import layered, recurrent
from sal_hw.golden.params import CoreParams
from sal_hw.golden.prng import derive_seed
from sal_hw.golden.quantize import quantize, step_lut
from sal_hw.golden.spaces import Config, Space

P = CoreParams(neurons=40, axons=40, history=24)
STEPS = 300
PERIOD = 50


def nets():
    return {
        "layered": layered((16, 12, 8), tau=5, eta=0.5, seed=3),
        "recurrent": recurrent(n=24, tau=5, eta=0.5, seed=4),
    }


def core_state(core):
    return {s: core.read(s) for s in Space}


# -- one core ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["layered", "recurrent"])
def test_one_core_chip_equals_fixed_core(name):
    net = nets()[name]
    core = FixedCore(quantize(net, params=P, apply_period=PERIOD))
    chip = FixedChip.from_image(quantize(net, params=P, apply_period=PERIOD))
    rng = np.random.default_rng(1)
    total = 0
    for t in range(STEPS):
        # external input on a few axons now and then, through both interfaces
        axons = rng.choice(P.axons, size=rng.integers(0, 3), replace=False) \
            if t % 7 == 0 else np.zeros(0, dtype=int)
        chip.inject(t, 0, axons)
        want = core.step(inject=axons)
        got = chip.step()
        assert np.array_equal(got[0], want), f"step {t}"
        total += int(want.sum())
    assert total > 200
    assert core_state(core) == core_state(chip.cores[0])
    assert core.cfg[Config.APPLY_COUNT] == STEPS // PERIOD
    assert np.any(core.weight != quantize(net, params=P).weight)   # it learned
    assert chip.step_count == STEPS
    assert chip.inject_pending == 0


def test_one_core_chip_with_odd_shape(core_image):
    """A != N and axons without a source: from_image routes exactly axon_source."""
    p = CoreParams(neurons=10, axons=13, history=12, rules=4)
    rng = np.random.default_rng(7)
    img = core_image(
        p, config={Config.TAU_REF: 2, Config.TAU_SYN: 3, Config.LUT_SHIFT: 6,
                   Config.APPLY_PERIOD: 20},
        weight=rng.integers(-128, 128, (13, 10)), rule_index=rng.integers(0, 4, (13, 10)),
        rules=[(0, 0, 0, 0), (-1, 1, 2, 0), (1, 1, 3, 1), (0, 0, 0, 2)],
        bias=rng.integers(-400, 400, 10), lut=np.linspace(0, 65535, 256).astype(int),
        kernel=[9, 7, 5, 3, 2, 1] + [0] * 6)
    img.axon_source = np.array([3, 3, -1, 0, 9, 1, -1, 2, 4, 5, 6, 7, 8])
    index, dest = single_core_routes(10, img.axon_source)
    assert [unpack_route_index(w)[1] for w in index] == [1, 1, 1, 2, 1, 1, 1, 1, 1, 1]
    assert [unpack_route_dest(w) for w in dest][:3] == [(0, 3), (0, 5), (0, 7)]
    core = FixedCore(img)
    chip = FixedChip.from_image(img)
    for t in range(200):
        assert np.array_equal(chip.step()[0], core.step()), f"step {t}"
    assert core_state(core) == core_state(chip.cores[0])
    assert chip.events_routed > 0


# -- placement ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_core_runs():
    """Per network: the 1-core chip's spike raster (network order) and final state."""
    out = {}
    for name, net in nets().items():
        chip = FixedChip.from_image(quantize(net, params=P, apply_period=PERIOD))
        raster = chip.run(STEPS)[:, 0, :net.size]
        core = chip.cores[0]
        out[name] = (raster, core.weight[:net.size, :net.size].copy(),
                     core.acc[:net.size, :net.size].copy(), core.read(Space.SEED)[:net.size],
                     core.read(Space.NEURON_HIST)[:net.size])
    return out


@pytest.mark.parametrize("K", [1, 2, 3, 4])
@pytest.mark.parametrize("name", ["layered", "recurrent"])
def test_placement_reproduces_one_core(name, K, one_core_runs):
    net = nets()[name]
    raster1, weight1, acc1, seed1, hist1 = one_core_runs[name]
    pl = place(net, P, K, apply_period=PERIOD)
    # seeds depend only on the network: neuron g starts from derive_seed(seed, 0, g)
    for g in range(net.size):
        c, n = pl.neuron_core[g], pl.neuron_local[g]
        assert pl.images[c].seed[n] == derive_seed(net.seed, 0, g)
    chip = pl.chip()
    # expected deliveries per spike of neuron g: the number of cores using it as an axon
    fanout = np.zeros(net.size, dtype=int)
    for c in range(K):
        for g in pl.axon_pre[c]:
            if g >= 0:
                fanout[g] += 1
    raster = pl.global_spikes(chip.run(STEPS))
    assert raster.shape == raster1.shape
    diff = np.flatnonzero((raster != raster1).any(axis=1))
    assert diff.size == 0, f"K={K}: spikes differ first at step {diff[:1]}"
    assert raster1.sum() > 200
    assert np.array_equal(pl.global_synapses(chip, Space.WEIGHT), weight1)
    assert np.array_equal(pl.global_synapses(chip, Space.ACC), acc1)
    assert np.any(weight1 != quantize(net, params=P).weight[:net.size, :net.size])
    for g in range(net.size):
        core = chip.cores[pl.neuron_core[g]]
        n = int(pl.neuron_local[g])
        assert core.read(Space.SEED, n, 1)[0] == seed1[g]
        assert core.read(Space.NEURON_HIST, n, 1)[0] == hist1[g]
    assert chip.events_routed == int((raster.sum(axis=0) * fanout).sum())
    if K > 1:   # spikes really cross cores
        assert any(unpack_route_dest(w)[0] != c
                   for c in range(K) for n in range(P.neurons)
                   for e in range(*_range(pl.route_index[c * P.neurons + n]))
                   for w in [pl.route_dest[e]])


def _range(word):
    start, count = unpack_route_index(word)
    return start, start + count


def test_placement_layout():
    net = layered((16, 12, 8), tau=5, eta=0.5, seed=3)
    pl = place(net, P, 3)
    assert pl.block == 12
    assert list(pl.neuron_core[[0, 11, 12, 35]]) == [0, 0, 1, 2]
    # layer 0 (neurons 0..15) is fed only by layer 1 (16..27) through B1
    assert list(pl.axon_pre[0][:13]) == list(range(16, 28)) + [-1]
    # neuron 12 (layer 0, core 1) feeds layer 1 on cores 1 and 2 through W1
    start, count = unpack_route_index(pl.route_index[1 * P.neurons + 0])
    assert [unpack_route_dest(w)[0] for w in pl.route_dest[start:start + count]] == [1, 2]
    # unused neuron slots: most negative bias, no synapses, no routes
    img = pl.images[2]
    assert img.bias[12] == P.bias_range[0]
    assert not img.weight[:, 12].any() and not img.rule_index[:, 12].any()
    assert pl.route_index[2 * P.neurons + 12] == 0


def test_placement_refuses_what_does_not_fit():
    net = recurrent(n=24, tau=5, eta=0.5, seed=4)
    with pytest.raises(ValueError, match="neurons per core"):
        place(net, CoreParams(neurons=8, axons=40, history=24), 2)
    with pytest.raises(ValueError, match="axons"):
        place(net, CoreParams(neurons=40, axons=20, history=24), 2)
    place(net, CoreParams(neurons=12, axons=24, history=24), 2)   # just fits
    with pytest.raises(ValueError, match="route entries|entries"):
        place(net, P, 2).chip(route_entries=30)


# -- the router ----------------------------------------------------------------------------------
Q = CoreParams(neurons=6, axons=5, history=8, rules=2)


def driven_chip(K, firing, plastic=False):
    """K cores whose neurons in ``firing[c]`` spike every step (deterministic LUT), others never."""
    images = []
    for c in range(K):
        img = empty_image(Q)
        img.lut = step_lut(Q, 4, 0.0)
        img.config[Config.LUT_SHIFT] = 4
        img.bias = np.array([0 if n in firing[c] else -1000 for n in range(Q.neurons)])
        if plastic:
            img.rules = [(0, 0, 0, 0), (1, 1, 3, 0)]   # Hebbian: SAL would cancel here
            img.rule_index = np.ones((Q.axons, Q.neurons), dtype=np.int64)
            img.kernel = np.array([5, 4, 3, 2, 1, 0, 0, 0])
        images.append(img)
    return FixedChip(Q, images, route_entries=16)


def axon_hist(chip, c):
    return chip.cores[c].read(Space.AXON_HIST)


def test_fanout_reaches_every_listed_axon_own_core_included():
    chip = driven_chip(3, [{1}, set(), set()])
    chip.write(ChipSpace.ROUTE_DEST, 4, [pack_route_dest(0, 0), pack_route_dest(1, 2),
                                         pack_route_dest(2, 4)])
    chip.write(ChipSpace.ROUTE_INDEX, 1, [pack_route_index(4, 3)])
    spikes = chip.step()
    assert spikes.sum() == 1 and spikes[0, 1]
    assert axon_hist(chip, 0) == [1, 0, 0, 0, 0]
    assert axon_hist(chip, 1) == [0, 0, 1, 0, 0]
    assert axon_hist(chip, 2) == [0, 0, 0, 0, 1]
    chip.step()
    assert axon_hist(chip, 1) == [0, 0, 3, 0, 0]
    assert chip.events_routed == 6
    assert chip.read(ChipSpace.STATUS) == [2, 6, 0, 0, 0, 0, 0]


def test_duplicate_events_merge():
    """Repeated deliveries to one axon (one route or two neurons) act as one spike."""
    firing = [{0, 3}, {2}]
    dup = driven_chip(2, firing, plastic=True)
    dup.write(ChipSpace.ROUTE_DEST, 0, [pack_route_dest(1, 1)] * 3 + [pack_route_dest(0, 2)])
    dup.write(ChipSpace.ROUTE_INDEX, 0, [pack_route_index(0, 3), 0, 0, pack_route_index(1, 3)])
    dup.write(ChipSpace.ROUTE_INDEX, Q.neurons + 2, [pack_route_index(0, 1)])
    once = driven_chip(2, firing, plastic=True)
    once.write(ChipSpace.ROUTE_DEST, 0, [pack_route_dest(1, 1), pack_route_dest(0, 2)])
    once.write(ChipSpace.ROUTE_INDEX, 0, [pack_route_index(0, 1), 0, 0, pack_route_index(0, 2)])
    for _ in range(12):
        assert np.array_equal(dup.step(), once.step())
    a, b = dup.snapshot(), once.snapshot()
    assert a["STATUS"][Status.EVENTS_ROUTED] == 12 * 7    # 3 + 3 + 1 deliveries a step
    assert b["STATUS"][Status.EVENTS_ROUTED] == 12 * 3
    for key in ("ROUTE_INDEX", "ROUTE_DEST", "STATUS"):
        del a[key], b[key]
    assert a == b
    assert any(dup.cores[1].read(Space.ACC))   # the merged spikes did learn
    assert axon_hist(dup, 1)[1] == 0xFF and axon_hist(dup, 0)[2] == 0xFF


def test_no_routes_no_events():
    chip = driven_chip(2, [{0, 1, 2}, {5}])
    chip.run(5)
    assert chip.events_routed == 0
    assert all(h == 0 for c in range(2) for h in axon_hist(chip, c))
    assert chip.cores[1].read(Space.SPIKE_COUNT)[5] == 5


# -- injection ------------------------------------------------------------------------------------
def test_inject_arrives_at_its_step_and_ors_with_routes():
    chip = driven_chip(2, [{0}, set()])
    chip.write(ChipSpace.ROUTE_DEST, 0, [pack_route_dest(1, 0)])
    chip.write(ChipSpace.ROUTE_INDEX, 0, [pack_route_index(0, 1)])
    chip.inject(0, 1, [3])          # the current step: the next step run
    chip.inject(2, 1, [4, 4, 0])    # repeats take slots; axon 0 also gets a routed event
    chip.inject(5, 0, [1])
    assert chip.inject_pending == 5
    assert chip.pending_events() == [(0, 1, 3), (2, 1, 0), (2, 1, 4), (2, 1, 4), (5, 0, 1)]
    chip.run(3)
    # axon history bit k-1 = spike k steps ago: steps 0,1,2 -> bits 2,1,0
    assert axon_hist(chip, 1) == [0b111, 0, 0, 0b100, 0b001]
    assert chip.inject_pending == 1
    assert chip.events_injected == 4 and chip.events_routed == 3
    chip.run(3)
    assert axon_hist(chip, 0) == [0, 0b001, 0, 0, 0]
    assert chip.read(ChipSpace.STATUS, 0, 4) == [6, 6, 5, 0]


def test_inject_refusals_change_nothing():
    chip = FixedChip(Q, 2, route_entries=8, inject_depth=4)
    chip.inject(3, 0, [1, 2, 3])
    chip.step()
    before = chip.snapshot()
    for args, what in [((0, 0, [1]), "past"), ((5, 2, [1]), "core"), ((5, 0, [Q.axons]), "axon"),
                       ((5, 0, [-1]), "axon"), ((5, 1, [0, 1]), "full"),
                       ((2 ** 32, 1, [0]), "past|beyond")]:
        with pytest.raises(AccessError, match=what):
            chip.inject(*args)
        assert chip.snapshot() == before
    chip.inject(1, 1, [4])            # the last free slot, at the current step
    assert chip.inject_pending == 4
    with pytest.raises(AccessError, match="full"):
        chip.inject(9, 0, [0])
    chip.run(3)
    assert chip.inject_pending == 0
    chip.inject(2 ** 32 - 1, 0, [0, 0, 0, 0])    # the last step a u32 counter names
    assert chip.read(ChipSpace.STATUS, Status.INJECT_PENDING, 1) == [4]


# -- chip-level spaces ----------------------------------------------------------------------------
def test_route_writes_are_checked_and_all_or_nothing():
    chip = FixedChip(Q, 3, route_entries=10)
    chip.write(ChipSpace.ROUTE_DEST, 9, [pack_route_dest(2, Q.axons - 1)])
    chip.write(ChipSpace.ROUTE_INDEX, 0, [pack_route_index(7, 3), pack_route_index(10, 0)])
    good = chip.snapshot()
    bad = [
        (ChipSpace.ROUTE_INDEX, 2, [pack_route_index(8, 3)], "outside"),         # start+count > D
        (ChipSpace.ROUTE_INDEX, 2, [pack_route_index(11, 0)], "outside"),
        (ChipSpace.ROUTE_INDEX, 2, [1 << 24], "fit"),
        (ChipSpace.ROUTE_INDEX, 2, [-1], "fit"),
        (ChipSpace.ROUTE_INDEX, 3 * Q.neurons - 1, [0, 0], "addresses"),
        (ChipSpace.ROUTE_INDEX, 0, [0, 0, pack_route_index(0, 11)], "outside"),  # last word bad
        (ChipSpace.ROUTE_DEST, 0, [pack_route_dest(3, 0)], "core"),
        (ChipSpace.ROUTE_DEST, 0, [pack_route_dest(0, Q.axons)], "axon"),
        (ChipSpace.ROUTE_DEST, 0, [0, 0, 0, 1 << 24], "fit"),
        (ChipSpace.ROUTE_DEST, 10, [0], "addresses"),
        (ChipSpace.STATUS, 0, [0], "read only"),
        (3, 0, [0], "no chip space"),
    ]
    for space, addr, values, what in bad:
        with pytest.raises(AccessError, match=what):
            chip.write(space, addr, values)
        assert chip.snapshot() == good, (space, addr, values)
    with pytest.raises(AccessError):
        chip.read(ChipSpace.ROUTE_DEST, 5, 6)
    with pytest.raises(AccessError):
        chip.read(ChipSpace.STATUS, 7, 1)
    assert chip.read(ChipSpace.ROUTE_INDEX, 0, 2) == [pack_route_index(7, 3), 10]
    assert chip.read(ChipSpace.ROUTE_DEST, 9) == [0x020004]


def test_core_writes_through_the_chip_change_nothing_when_refused():
    chip = FixedChip(Q, 2)
    before = chip.snapshot()
    for space, addr, values in [(Space.SEED, 0, [5, 0]), (Space.WEIGHT, 0, [200]),
                                (Space.CONFIG, 1, [Q.history + 1]), (Space.POTENTIAL, 0, [0])]:
        with pytest.raises(AccessError):
            chip.cores[1].write(space, addr, values)
    assert chip.snapshot() == before


def test_reset_state():
    chip = FixedChip(Q, 2, route_entries=5, inject_depth=3)
    assert chip.K == 2 and chip.route_entries == 5 and chip.inject_depth == 3
    for core in chip.cores:
        assert core.read(Space.CONFIG) == [1, 1, 0, 0, 0, 0, 0]
        assert core.read(Space.SEED) == list(range(1, Q.neurons + 1))
        for s in (Space.WEIGHT, Space.ACC, Space.RULE_INDEX, Space.RULES, Space.BIAS, Space.LUT,
                  Space.KERNEL, Space.REFRACTORY, Space.AXON_HIST, Space.SPIKE_COUNT):
            assert not any(core.read(s)), s
    assert chip.read(ChipSpace.ROUTE_INDEX) == [0] * 2 * Q.neurons
    assert chip.read(ChipSpace.ROUTE_DEST) == [0] * 5
    assert chip.read(ChipSpace.STATUS) == [0] * len(Status)
    assert not chip.run(10).any()
    assert chip.read(ChipSpace.STATUS, 0, 1) == [10]


def test_counters_saturate():
    chip = driven_chip(1, [{0}])
    chip.write(ChipSpace.ROUTE_DEST, 0, [pack_route_dest(0, 0)])
    chip.write(ChipSpace.ROUTE_INDEX, 0, [pack_route_index(0, 1)])
    chip.step_count = chip.events_routed = 2 ** 32 - 1
    chip.inject(2 ** 32 - 1, 0, [1])
    chip.run(2)
    assert chip.read(ChipSpace.STATUS, 0, 4) == [2 ** 32 - 1, 2 ** 32 - 1, 1, 0]


def test_constructor_checks():
    for kwargs in [dict(cores=0), dict(cores=MAX_CORES + 1), dict(cores=1, route_entries=0),
                   dict(cores=1, route_entries=65537), dict(cores=1, inject_depth=0),
                   dict(cores=1, inject_depth=65536), dict(cores=1, lanes=0)]:
        with pytest.raises(ValueError):
            FixedChip(Q, **kwargs)
    with pytest.raises(ValueError, match="CoreParams"):
        FixedChip(Q, [empty_image(P)])
    FixedChip(Q, 1, route_entries=65536, inject_depth=65535)
    with pytest.raises(ValueError):
        pack_route_index(65536, 0)
    with pytest.raises(ValueError):
        pack_route_dest(256, 0)
