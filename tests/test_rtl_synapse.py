"""rtl/synapse.py SynapseMemory: skewed banks, ONE/ROW/COLUMN walks, write-back timing.

Synapse (a, n) is one word {weight, acc, rule}.  Timing (module docstring),
with ``write_delay`` = D: present a walk in cycle c, the lane words are on
``rd`` in cycle c + 2 and ``wr``/``we`` in cycle c + D write back to the same
synapses; reads are transparent to writes.  Every test runs with D = 2 (the
read latency) and D = 7 (the core's WALK_DELAY), walks streamed one per
cycle; a walk is not presented while a walk sharing one of its synapses
waits for its write-back, but may be presented in the write-back cycle
itself (it then reads the new words).  A != N in every configuration, so a
mix-up of the a * N + n addressing shows.
"""

import random

import pytest

from rtl_sim import run, stream
from sal_hw.golden.params import CoreParams
from sal_hw.rtl.core import WALK_DELAY
from sal_hw.rtl.synapse import SynapseMemory, Walk

READ_LATENCY = 2
DELAYS = [READ_LATENCY, WALK_DELAY]     # the shortest write-back delay and the core's
SHAPES = [
    (CoreParams(neurons=16, axons=8, history=8), 1),
    (CoreParams(neurons=16, axons=8, history=8), 2),
    (CoreParams(neurons=16, axons=8, history=8), 4),
    (CoreParams(neurons=16, axons=8, history=8), 8),    # one column group per column
    (CoreParams(neurons=8, axons=16, history=8), 2),
    (CoreParams(neurons=8, axons=16, history=8), 4),
    (CoreParams(neurons=8, axons=16, history=8), 8),    # one word per row
]
#: banks deeper than 2,048 words are built of bit slices (rtl/synapse.py): at the core's delay
DEEP = [
    (CoreParams(neurons=16, axons=256, history=8), 2),  # 2,048 words a bank: one memory
    (CoreParams(neurons=8, axons=512, history=8), 1),   # 4,096 words a bank: 4-bit slices
]
CONFIGS = [(p, L, D) for p, L in SHAPES for D in DELAYS] + [(p, L, WALK_DELAY) for p, L in DEEP]
IDS = [f"N{p.neurons}A{p.axons}L{L}D{D}" for p, L, D in CONFIGS]


def random_words(p, rng):
    """A distinct word for every synapse (distinct accumulators)."""
    A, N = p.axons, p.neurons
    wlo, whi = p.weight_range
    accs = rng.sample(range(*p.acc_range), A * N)
    return {(a, n): (rng.randint(wlo, whi), accs[a * N + n], rng.randrange(p.rules))
            for a in range(A) for n in range(N)}


def junk(p, rng):
    return (rng.randint(*p.weight_range), rng.randint(*p.acc_range), rng.randrange(p.rules))


def set_lane(ctx, dut, j, word):
    weight, acc, rule = word
    ctx.set(dut.wr[j], {"weight": weight, "acc": acc, "rule": rule})


def get_lane(ctx, dut, j):
    return (ctx.get(dut.rd[j].weight), ctx.get(dut.rd[j].acc), ctx.get(dut.rd[j].rule))


def present(ctx, dut, mode, a=0, n=0, w=0, g=0):
    ctx.set(dut.mode, mode)
    ctx.set(dut.a, a)
    ctx.set(dut.n, n)
    ctx.set(dut.w, w)
    ctx.set(dut.g, g)


def targets(L, walk):
    """The synapse of each lane of ``walk`` = (mode, x, y): ROW (a, w), COLUMN (n, g), ONE (a, n)."""
    mode, x, y = walk
    if mode == Walk.ROW:
        return [(x, y * L + j) for j in range(L)]      # lane j = synapse (a, w * L + j)
    if mode == Walk.COLUMN:
        return [(y * L + j, x) for j in range(L)]      # lane j = synapse (g * L + j, n)
    return [(x, y)]                                    # lane 0 = synapse (a, n)


def present_walk(ctx, dut, walk):
    mode, x, y = walk
    if mode == Walk.ROW:
        present(ctx, dut, mode, a=x, w=y)
    elif mode == Walk.COLUMN:
        present(ctx, dut, mode, n=x, g=y)
    else:
        present(ctx, dut, mode, a=x, n=y)


def schedule(L, D, walks, *, reorder):
    """Slots, one per cycle, for ``walks`` (dicts with a "walk"); None = a bubble.

    A walk never shares a synapse with a walk presented less than D cycles
    before it (it may be presented exactly D cycles later, in the write-back
    cycle).  In order, each walk in the first cycle that allows it; with
    ``reorder``, each cycle takes the first waiting walk that fits.
    """
    slots, waiting = [], list(walks)
    while waiting:
        busy = set()
        for item in slots[-(D - 1):] if D > 1 else []:
            if item is not None:
                busy.update(targets(L, item["walk"]))
        fits = [i for i, item in enumerate(waiting[:len(waiting) if reorder else 1])
                if busy.isdisjoint(targets(L, item["walk"]))]
        slots.append(waiting.pop(fits[0]) if fits else None)
    return slots


async def run_walks(ctx, dut, L, D, model, slots):
    """Stream ``slots`` (from :func:`schedule`): present each walk, check its lanes against
    ``model`` as it was in that cycle two cycles later, and D cycles later write back what
    its "write" gives (``write(read)`` -> (lane words, we mask), applied to ``model``)."""
    def write_back(item, memo):
        if item is None or "write" not in item:
            ctx.set(dut.we, 0)
            return
        words, mask = item["write"](memo["read"])
        for j, word in enumerate(words):
            set_lane(ctx, dut, j, word)
        for j, syn in enumerate(targets(L, item["walk"])):
            if mask >> j & 1:
                model[syn] = words[j]
        ctx.set(dut.we, mask)

    def issue(item, memo):
        # A bubble presents something too: the walk pipeline reads every cycle.
        present_walk(ctx, dut, (Walk.ONE, 0, 0) if item is None else item["walk"])
        if item is not None:
            memo["read"] = [model[syn] for syn in targets(L, item["walk"])]

    def check(item, memo):
        if item is None:
            return
        mode, x, y = item["walk"]
        for j, want in enumerate(memo["read"]):
            assert get_lane(ctx, dut, j) == want, f"{mode.name} ({x}, {y}) lane {j}"

    # write-backs first: a walk presented in a write-back cycle reads the new words
    await stream(ctx, slots, [(D, write_back), (0, issue), (READ_LATENCY, check)])


async def write_all_one(ctx, dut, p, L, D, words, rng):
    """Back-to-back Walk.ONE writes: synapse i presented in cycle i, its word written at i + D.

    Only lane 0 may be written: the other lanes carry junk with ``we`` bit 0.
    The synapses start at zero (the memories' reset contents): ``model`` holds
    them until they are written.
    """
    order = list(words)
    rng.shuffle(order)
    model = {syn: (0, 0, 0) for syn in words}

    def one(syn):
        return lambda read: ([words[syn]] + [junk(p, rng) for _ in range(1, L)], 1)

    await run_walks(ctx, dut, L, D, model,
                    [dict(walk=(Walk.ONE, *syn), write=one(syn)) for syn in order])
    assert model == words


def all_rows(p, L):
    return [(Walk.ROW, a, w) for a in range(p.axons) for w in range(p.neurons // L)]


def all_columns(p, L):
    return [(Walk.COLUMN, n, g) for n in range(p.neurons) for g in range(p.axons // L)]


async def check_walks(ctx, dut, L, D, model, walks):
    """Read-only walks, one per cycle, every lane checked."""
    await run_walks(ctx, dut, L, D, model, [dict(walk=w) for w in walks])


@pytest.mark.parametrize("p,L,D", CONFIGS, ids=IDS)
def test_one_writes_then_row_column_one_reads(p, L, D):
    rng = random.Random(p.neurons * 1000 + p.axons * 10 + L)
    dut = SynapseMemory(p, L, write_delay=D)
    model = random_words(p, rng)

    async def bench(ctx):
        await write_all_one(ctx, dut, p, L, D, model, rng)
        await check_walks(ctx, dut, L, D, model, all_rows(p, L))
        await check_walks(ctx, dut, L, D, model, all_columns(p, L))
        await check_walks(ctx, dut, L, D, model, [(Walk.ONE, a, n) for a, n in model])

    run(dut, bench)


@pytest.mark.parametrize("p,L,D", CONFIGS, ids=IDS)
def test_row_and_column_write_back(p, L, D):
    """Lane writes of ROW and COLUMN walks land on the synapses the lanes read, per ``we`` bit.

    Rows and columns in random order, streamed: a walk that shares a synapse
    with one still waiting for its write-back waits (others pass it).
    """
    rng = random.Random(7 + L)
    dut = SynapseMemory(p, L, write_delay=D)
    model = random_words(p, rng)
    all_lanes = (1 << L) - 1

    def new_words(read):
        """Every word gets new contents in a random subset of lanes."""
        mask = rng.randrange(all_lanes + 1)
        return [junk(p, rng) for _ in read], mask

    async def bench(ctx):
        await write_all_one(ctx, dut, p, L, D, model, rng)
        walks = all_rows(p, L) + all_columns(p, L)
        rng.shuffle(walks)
        slots = schedule(L, D, [dict(walk=w, write=new_words) for w in walks], reorder=True)
        await run_walks(ctx, dut, L, D, model, slots)
        await check_walks(ctx, dut, L, D, model, [(Walk.ONE, a, n) for a, n in model])

    run(dut, bench)


@pytest.mark.parametrize("p,L,D", CONFIGS, ids=IDS)
def test_row_read_modify_write_in_consecutive_cycles(p, L, D):
    """The core's walk pattern: word presented again in the cycle it is written back.

    Transparency must hand the new value to the next read of the same word,
    whether by a ROW walk or by a COLUMN walk through one of its synapses.
    Up to D rows take turns, so that each is presented again exactly in its
    write-back cycle while the others fill the cycles in between.
    """
    rng = random.Random(99 + L)
    dut = SynapseMemory(p, L, write_delay=D)
    model = random_words(p, rng)
    alo, ahi = p.acc_range
    all_lanes = (1 << L) - 1
    rows = [(0, 0), (p.axons - 1, p.neurons // L - 1), (3, 1 % (p.neurons // L))]

    def increment(k):
        def write(read):
            mask = all_lanes if k % 2 == 0 else rng.randrange(all_lanes + 1)
            return [(wt, acc + 1 if acc < ahi else alo, rule) for wt, acc, rule in read], mask
        return write

    def next_rule(read):
        return [(wt, acc, (rule + 1) % p.rules) for wt, acc, rule in read], all_lanes

    def passes(a, w):
        """Six read-modify-writes of row (a, w); a seventh pass writes the row once more,
        and a column through lane j's synapse reads it back, presented as soon as that
        write-back allows (in its cycle, unless the column crosses another row in flight)."""
        ops = [dict(walk=(Walk.ROW, a, w), write=increment(k)) for k in range(6)]
        ops.append(dict(walk=(Walk.ROW, a, w), write=next_rule))
        n = w * L + rng.randrange(L)
        ops.append(dict(walk=(Walk.COLUMN, n, a // L)))
        return ops

    async def bench(ctx):
        await write_all_one(ctx, dut, p, L, D, model, rng)
        ops = []
        for first in range(0, len(rows), D):
            group = [passes(a, w) for a, w in rows[first:first + D]]
            ops += [op for turn in zip(*group) for op in turn]
        slots = schedule(L, D, ops, reorder=False)
        for a, w in rows:     # each pass of a row exactly in the previous one's write-back cycle
            cycles = [i for i, op in enumerate(slots) if op and op["walk"] == (Walk.ROW, a, w)]
            assert [c - b for b, c in zip(cycles, cycles[1:])] == [D] * 6
        await run_walks(ctx, dut, L, D, model, slots)
        await check_walks(ctx, dut, L, D, model, [(Walk.ONE, a, n) for a, n in model])

    run(dut, bench)
