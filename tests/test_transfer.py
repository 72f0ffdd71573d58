"""Host-side bulk transfers (golden/transfer.py) through the byte-level emulator.

Random small chips (a random network placed on K = 1..4 cores, run so that
histories, accumulators and counters move, then random words written into
some spaces) are loaded into a fresh reset chip with the WRITEs of
``load_requests``, read back and checksummed, all over ``ChipEmulator``.
"""

import random

import numpy as np
import pytest

from sal_hw.golden import protocol as pr
from sal_hw.golden.chip import ChipSpace, FixedChip, place
from sal_hw.golden.emulator import ChipEmulator
from sal_hw.golden.network import layered, recurrent
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import CHIP
from sal_hw.golden.spaces import Config, Space, space_info
from sal_hw.golden.transfer import (FRAME_OVERHEAD, LOAD_SPACES, Link, assemble,
                                    checksum_request, expected_checksum, load_requests,
                                    loadable_snapshot, readback_requests, write_runs)

P = CoreParams(neurons=16, axons=16, history=16)
D = 256
SEEDS = range(8)


def random_chip(seed):
    """A placed random network on K = 1..4 cores, run a while, then scribbled on."""
    rng = random.Random(seed)
    K = 1 + seed % 4
    if rng.random() < 0.5:
        n = rng.randint(2, min(16, 16 * K))          # all-to-all: n - 1 axons per core
        net = recurrent(n=n, tau=rng.randint(2, 6), eta=0.5, seed=seed + 1)
    else:
        net = layered([rng.randint(2, 6), rng.randint(2, 6), rng.randint(1, 4)], tau=3,
                      eta=0.5, seed=seed + 1)
    net.kernel = net.kernel[:P.history]
    chip = place(net, P, K, lut_shift=rng.randint(4, 10),
                 apply_period=rng.randint(3, 9)).chip(route_entries=D)
    chip.run(rng.randint(20, 60))
    nprng = np.random.default_rng(seed)
    for _ in range(6):           # random words into random writable spaces
        c = rng.randrange(K)
        s = rng.choice([Space.ACC, Space.WEIGHT, Space.BIAS, Space.SPIKE_COUNT,
                        Space.REFRACTORY, Space.NEURON_HIST, Space.AXON_HIST, Space.SEED])
        info = space_info(P, s)
        addr = rng.randrange(info.depth)
        count = rng.randint(1, info.depth - addr)
        if info.signed:
            lo, hi = -(1 << (info.bits - 1)), (1 << (info.bits - 1)) - 1
        else:
            lo, hi = (1 if s == Space.SEED else 0), (1 << info.bits) - 1
        chip.cores[c].write(s, addr, [int(v) for v in nprng.integers(lo, hi, count,
                                                                     endpoint=True)])
    assert chip.step_count > 0 and chip.events_routed > 0
    return chip


def fresh_like(chip):
    return FixedChip(chip.p, chip.K, route_entries=chip.route_entries)


def load(source, **kw):
    """Load ``source`` into a fresh chip over the emulator; returns (chip, link)."""
    target = fresh_like(source)
    link = Link(ChipEmulator(target).feed)
    bodies = link.run(load_requests(source, **kw))    # a NAK would raise
    assert bodies == [b""] * len(bodies)
    return target, link


@pytest.fixture(scope="module", params=SEEDS)
def source(request):
    return random_chip(request.param)


@pytest.mark.parametrize("from_reset", [True, False])
def test_load_reproduces_the_state(source, from_reset):
    target, link = load(source, from_reset=from_reset)
    assert loadable_snapshot(target) == loadable_snapshot(source)
    # From here on both chips are the same chip: the read-only parts too.
    src_spikes = source.run(5)
    assert np.array_equal(target.run(5), src_spikes)
    a, b = target.snapshot(), source.snapshot()
    core_keys = [k for k in a if isinstance(k, tuple)]
    assert {k: a[k] for k in core_keys} == {k: b[k] for k in core_keys}
    assert a["ROUTE_INDEX"] == b["ROUTE_INDEX"] and a["ROUTE_DEST"] == b["ROUTE_DEST"]


def test_load_reproduces_the_full_snapshot():
    """A source whose read-only parts are at reset: the whole snapshot must match."""
    ran = random_chip(3)
    source = fresh_like(ran)
    for c in range(ran.K):
        for s in LOAD_SPACES:
            source.cores[c].write(s, 0, ran.cores[c].read(s))
    source.load_routes(ran.route_index, ran.route_dest)
    for from_reset in (True, False):
        target, _ = load(source, from_reset=from_reset)
        assert target.snapshot() == source.snapshot()


def test_frames_obey_the_limits(source):
    for from_reset in (True, False):
        for req in load_requests(source, from_reset=from_reset):
            assert 1 <= req.count and len(req.data) <= pr.MAX_DATA
            assert len(req.body()) + 4 <= pr.MAX_FRAME


def test_from_reset_sends_less(source):
    _, sparse = load(source, from_reset=True)
    _, full = load(source, from_reset=False)
    # more, smaller frames, but fewer bytes both ways (the host waits for every ACK)
    assert sparse.bytes_out + sparse.bytes_in < full.bytes_out + full.bytes_in


def test_sparse_state_is_cheap():
    """A reset chip with three words changed: three tiny WRITEs, a fraction of a full dump."""
    source = FixedChip(P, 2, route_entries=D)
    source.cores[1].write(Space.BIAS, 5, [-7])
    source.cores[0].write(Space.WEIGHT, 100, [3])
    source.write(ChipSpace.ROUTE_DEST, 9, [0x10003])
    reqs = load_requests(source)
    assert [(r.core, r.space, r.addr, r.count) for r in reqs] == [
        (0, Space.WEIGHT, 100, 1), (1, Space.BIAS, 5, 1), (CHIP, ChipSpace.ROUTE_DEST, 9, 1)]
    target, sparse = load(source)
    _, full = load(source, from_reset=False)
    assert target.snapshot() == source.snapshot()
    assert sparse.bytes_out * 50 < full.bytes_out
    # and loading into a chip that is *not* at reset needs from_reset=False
    dirty = random_chip(5)
    assert dirty.K == 2 and loadable_snapshot(dirty) != loadable_snapshot(source)
    link = Link(ChipEmulator(dirty).feed)
    link.run(load_requests(source, from_reset=False))
    assert loadable_snapshot(dirty) == loadable_snapshot(source)


def test_write_runs_merge_short_gaps():
    reset = [0] * 3000
    v = list(reset)
    v[0] = v[12] = 1            # gap of 11 one-byte words: cheaper to resend
    v[40] = 1                   # gap of 27: a new frame
    assert write_runs(v, reset, bits=8) == [(0, 13), (40, 1)]
    v[53] = 1                   # gap of exactly 12 bytes: merged (same cost, fewer frames)
    assert write_runs(v, reset, bits=8) == [(0, 13), (40, 14)]
    w = [0] * 20
    w[0] = w[4] = 1             # 32-bit words: gap 3 words = 12 bytes merges
    w[9] = 1                    # gap 4 words = 16 bytes splits
    assert write_runs(w, [0] * 20, bits=32) == [(0, 5), (9, 1)]
    assert write_runs([5] * 2500, [0] * 2500, bits=8) == [(0, 1024), (1024, 1024), (2048, 452)]
    assert write_runs([5] * 300, None, bits=20) == [(0, 300)]            # 3-byte words: 341
    assert write_runs([5] * 700, None, bits=20) == [(0, 341), (341, 341), (682, 18)]
    assert write_runs([0] * 50, [0] * 50) == []
    assert FRAME_OVERHEAD == 12


def test_a_different_chip_does_not_compare_equal(source):
    """Every loadable space is compared: one changed word anywhere is caught."""
    target, _ = load(source)
    assert loadable_snapshot(target) == loadable_snapshot(source)
    c = source.K - 1
    for s in LOAD_SPACES:
        old = target.cores[c].read(s, 0, 1)[0]
        new = {Space.CONFIG: old % 255 + 1, Space.SEED: old % 1000 + 1,
               Space.RULE_INDEX: (old + 1) % P.rules}.get(s, old ^ 1)
        target.cores[c].write(s, 0, [new])
        assert loadable_snapshot(target) != loadable_snapshot(source), s.name
        target.cores[c].write(s, 0, [old])
    assert loadable_snapshot(target) == loadable_snapshot(source)
    for space in (ChipSpace.ROUTE_INDEX, ChipSpace.ROUTE_DEST):
        old = target.read(space, 0, 1)
        target.write(space, 0, [0 if old[0] else 1])
        assert loadable_snapshot(target) != loadable_snapshot(source), space.name
        target.write(space, 0, old)
    # ... and a load that skips one frame is not the source
    reqs = load_requests(source)
    partial = fresh_like(source)
    Link(ChipEmulator(partial).feed).run(reqs[:len(reqs) // 2] + reqs[len(reqs) // 2 + 1:])
    assert loadable_snapshot(partial) != loadable_snapshot(source)


def test_readback_returns_every_space(source):
    target, _ = load(source)
    spaces = list(Space) + [(CHIP, ChipSpace.ROUTE_INDEX), (CHIP, ChipSpace.ROUTE_DEST)]
    reqs = readback_requests(P, target.K, spaces, route_entries=D)
    for r in reqs:
        info = (target.space_info(r.space) if r.core == CHIP else space_info(P, r.space))
        assert r.count * pr.word_bytes(info.bits) <= pr.MAX_DATA
    # reading the source itself gives the source's values for every space, read-only included
    got = assemble(P, source.K, reqs, Link(ChipEmulator(source).feed).run(reqs),
                   route_entries=D)
    assert set(got) == {(c, s) for c in range(source.K) for s in Space} | {
        (CHIP, ChipSpace.ROUTE_INDEX), (CHIP, ChipSpace.ROUTE_DEST)}
    for (c, s), values in got.items():
        assert values == (source.read(s) if c == CHIP else source.cores[c].read(s)), (c, s)
    # reading the loaded chip gives the source's values for every loadable space
    got = assemble(P, target.K, reqs, Link(ChipEmulator(target).feed).run(reqs),
                   route_entries=D)
    for c in range(source.K):
        for s in LOAD_SPACES:
            assert got[(c, s)] == source.cores[c].read(s)
    assert got[(CHIP, ChipSpace.ROUTE_DEST)] == source.read(ChipSpace.ROUTE_DEST)
    # a reply with a wrong word does not go unnoticed
    bodies = Link(ChipEmulator(target).feed).run(reqs)
    bodies[0] = bytes([bodies[0][0] ^ 1]) + bodies[0][1:]
    assert assemble(P, target.K, reqs, bodies, route_entries=D) != got


def test_checksum_verifies_the_load(source):
    target, _ = load(source)
    link = Link(ChipEmulator(target).feed)
    for c in range(source.K):
        for s in Space:
            crc = pr.parse_checksum_reply(link.request(checksum_request(source, c, s)))
            if s in LOAD_SPACES:
                assert crc == expected_checksum(source, c, s), (c, s)
            assert crc == expected_checksum(target, c, s), (c, s)
    for s in (ChipSpace.ROUTE_INDEX, ChipSpace.ROUTE_DEST):
        crc = pr.parse_checksum_reply(link.request(checksum_request(source, CHIP, s)))
        assert crc == expected_checksum(source, CHIP, s)
    assert checksum_request(P, 0, Space.WEIGHT) == pr.Checksum(0, Space.WEIGHT, 0, 256)
    # a changed weight changes the checksum
    w = target.cores[0].read(Space.WEIGHT, 7, 1)[0]
    target.cores[0].write(Space.WEIGHT, 7, [w + 1 if w < 127 else w - 1])
    crc = pr.parse_checksum_reply(link.request(checksum_request(P, 0, Space.WEIGHT)))
    assert crc != expected_checksum(source, 0, Space.WEIGHT)


def test_config_is_loaded_first_within_a_core():
    """CONFIG writes come before anything else of the core, routes after every core."""
    source = random_chip(2)
    reqs = load_requests(source)
    keys = [(r.core, r.space) for r in reqs]
    assert keys == sorted(keys, key=lambda k: (k[0] == CHIP, k[0],
                                               k[1] if k[0] != CHIP else -k[1]))
    assert source.cores[0].read(Space.CONFIG)[Config.STEP_COUNT] > 0
    assert (0, Space.CONFIG) in keys
