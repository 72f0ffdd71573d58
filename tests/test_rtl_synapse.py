"""rtl/synapse.py SynapseMemory: skewed banks, ONE/ROW/COLUMN walks, write-back timing.

Synapse (a, n) is one word {weight, acc, rule}.  Timing (module docstring):
present the walk in cycle c, the lane words are on ``rd`` in cycle c + 1 and
``wr``/``we`` in that cycle write back to the same synapses; reads are
transparent to writes.  A != N in every configuration, so a mix-up of the
a * N + n addressing shows.
"""

import random

import pytest

from rtl_sim import run
from sal_hw.golden.params import CoreParams
from sal_hw.rtl.synapse import SynapseMemory, Walk

CONFIGS = [
    (CoreParams(neurons=16, axons=8, history=8), 1),
    (CoreParams(neurons=16, axons=8, history=8), 2),
    (CoreParams(neurons=16, axons=8, history=8), 4),
    (CoreParams(neurons=16, axons=8, history=8), 8),    # one column group per column
    (CoreParams(neurons=8, axons=16, history=8), 2),
    (CoreParams(neurons=8, axons=16, history=8), 4),
    (CoreParams(neurons=8, axons=16, history=8), 8),    # one word per row
]
IDS = [f"N{p.neurons}A{p.axons}L{L}" for p, L in CONFIGS]


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


async def write_all_one(ctx, dut, p, L, words, rng):
    """Back-to-back Walk.ONE writes: address of synapse i in the cycle its predecessor's data goes.

    Only lane 0 may be written: the other lanes carry junk with ``we`` bit 0.
    """
    pending = None
    order = list(words)
    rng.shuffle(order)
    for syn in order + [None]:
        present(ctx, dut, Walk.ONE, *(syn or (0, 0)))
        if pending is not None:
            set_lane(ctx, dut, 0, pending)
            for j in range(1, L):
                set_lane(ctx, dut, j, junk(p, rng))
            ctx.set(dut.we, 1)
        else:
            ctx.set(dut.we, 0)
        await ctx.tick()
        pending = None if syn is None else words[syn]
    ctx.set(dut.we, 0)


async def check_rows(ctx, dut, p, L, model):
    """Walk.ROW of every row word, pipelined: lane j = synapse (a, w * L + j)."""
    for a in range(p.axons):
        for w in range(p.neurons // L):
            present(ctx, dut, Walk.ROW, a=a, w=w)
            await ctx.tick()
            for j in range(L):
                assert get_lane(ctx, dut, j) == model[(a, w * L + j)], \
                    f"ROW a={a} w={w} lane {j}"


async def check_columns(ctx, dut, p, L, model):
    """Walk.COLUMN of every column group, pipelined: lane j = synapse (g * L + j, n)."""
    for n in range(p.neurons):
        for g in range(p.axons // L):
            present(ctx, dut, Walk.COLUMN, n=n, g=g)
            await ctx.tick()
            for j in range(L):
                assert get_lane(ctx, dut, j) == model[(g * L + j, n)], \
                    f"COLUMN n={n} g={g} lane {j}"


async def check_ones(ctx, dut, p, model):
    for (a, n), word in model.items():
        present(ctx, dut, Walk.ONE, a=a, n=n)
        await ctx.tick()
        assert get_lane(ctx, dut, 0) == word, f"ONE ({a}, {n})"


@pytest.mark.parametrize("p,L", CONFIGS, ids=IDS)
def test_one_writes_then_row_column_one_reads(p, L):
    rng = random.Random(p.neurons * 1000 + p.axons * 10 + L)
    dut = SynapseMemory(p, L)
    model = random_words(p, rng)

    async def bench(ctx):
        await write_all_one(ctx, dut, p, L, model, rng)
        await check_rows(ctx, dut, p, L, model)
        await check_columns(ctx, dut, p, L, model)
        await check_ones(ctx, dut, p, model)

    run(dut, bench)


@pytest.mark.parametrize("p,L", CONFIGS, ids=IDS)
def test_row_and_column_write_back(p, L):
    """Lane writes of ROW and COLUMN walks land on the synapses the lanes read, per ``we`` bit."""
    rng = random.Random(7 + L)
    dut = SynapseMemory(p, L)
    model = random_words(p, rng)
    all_lanes = (1 << L) - 1

    async def bench(ctx):
        await write_all_one(ctx, dut, p, L, model, rng)
        # Rows: every word gets new contents in a random subset of lanes.
        walks = [(Walk.ROW, a, w) for a in range(p.axons) for w in range(p.neurons // L)]
        walks += [(Walk.COLUMN, n, g) for n in range(p.neurons) for g in range(p.axons // L)]
        rng.shuffle(walks)
        for mode, x, y in walks:
            if mode == Walk.ROW:
                present(ctx, dut, mode, a=x, w=y)
                targets = [(x, y * L + j) for j in range(L)]
            else:
                present(ctx, dut, mode, n=x, g=y)
                targets = [(y * L + j, x) for j in range(L)]
            ctx.set(dut.we, 0)
            await ctx.tick()
            mask = rng.randrange(all_lanes + 1)
            for j, syn in enumerate(targets):
                assert get_lane(ctx, dut, j) == model[syn]
                new = junk(p, rng)
                set_lane(ctx, dut, j, new)
                if mask >> j & 1:
                    model[syn] = new
            ctx.set(dut.we, mask)
            present(ctx, dut, Walk.ONE, 0, 0)   # the next walk's stage 0 may be anything
            await ctx.tick()
            ctx.set(dut.we, 0)
        await check_ones(ctx, dut, p, model)

    run(dut, bench)


@pytest.mark.parametrize("p,L", CONFIGS, ids=IDS)
def test_row_read_modify_write_in_consecutive_cycles(p, L):
    """The core's walk pattern: word presented again in the cycle it is written back.

    Transparency must hand the new value to the next read of the same word,
    whether by a ROW walk or by a COLUMN walk through one of its synapses.
    """
    rng = random.Random(99 + L)
    dut = SynapseMemory(p, L)
    model = random_words(p, rng)
    alo, ahi = p.acc_range
    all_lanes = (1 << L) - 1

    async def bench(ctx):
        await write_all_one(ctx, dut, p, L, model, rng)
        for a, w in [(0, 0), (p.axons - 1, p.neurons // L - 1), (3, 1 % (p.neurons // L))]:
            row = [(a, w * L + j) for j in range(L)]
            present(ctx, dut, Walk.ROW, a=a, w=w)
            await ctx.tick()
            for k in range(6):
                mask = all_lanes if k % 2 == 0 else rng.randrange(all_lanes + 1)
                for j, syn in enumerate(row):
                    assert get_lane(ctx, dut, j) == model[syn], f"row ({a}, {w}) pass {k}"
                    wt, acc, rule = model[syn]
                    new = (wt, acc + 1 if acc < ahi else alo, rule)
                    set_lane(ctx, dut, j, new)
                    if mask >> j & 1:
                        model[syn] = new
                ctx.set(dut.we, mask)
                present(ctx, dut, Walk.ROW, a=a, w=w)   # the same word again, this cycle
                await ctx.tick()
            # Write the row once more while a column through lane j's synapse is presented.
            j = rng.randrange(L)
            _, n = row[j]
            for i, syn in enumerate(row):
                wt, acc, rule = model[syn]
                model[syn] = (wt, acc, (rule + 1) % p.rules)
                set_lane(ctx, dut, i, model[syn])
            ctx.set(dut.we, all_lanes)
            present(ctx, dut, Walk.COLUMN, n=n, g=a // L)
            await ctx.tick()
            ctx.set(dut.we, 0)
            for i in range(L):
                assert get_lane(ctx, dut, i) == model[((a // L) * L + i, n)], \
                    f"column {n} after row ({a}, {w}) write, lane {i}"
        await check_ones(ctx, dut, p, model)

    run(dut, bench)
