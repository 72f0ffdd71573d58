"""rtl/banks.py LaneBanks: entry i in bank i mod L at word i / L; one-entry and lane-wide ports.

Timing (module docstring): an address in cycle c gives data in cycle c + 1,
reads are transparent to writes, writes take effect at the end of the cycle.
"""

import random

import pytest
from amaranth.hdl import signed, unsigned

from rtl_sim import run
from sal_hw.rtl.banks import LaneBanks

CONFIGS = [(unsigned(12), 16, 1), (unsigned(12), 16, 2), (signed(28), 16, 4),
           (signed(28), 16, 8), (unsigned(5), 8, 8), (signed(28), 32, 4)]
IDS = [f"{'s' if s.signed else 'u'}{s.width}_d{d}_L{L}" for s, d, L in CONFIGS]


def rand_value(shape, rng):
    if shape.signed:
        return rng.randint(-(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1)
    return rng.randrange(1 << shape.width)


def idle(ctx, dut):
    ctx.set(dut.one_we, 0)
    ctx.set(dut.lanes_we, 0)


async def one_write(ctx, dut, i, v):
    ctx.set(dut.one_waddr, i)
    ctx.set(dut.one_wdata, v)
    ctx.set(dut.one_we, 1)
    await ctx.tick()
    ctx.set(dut.one_we, 0)


async def check_words(ctx, dut, model, L):
    """Lane-wide reads of every word, pipelined: lane j of word w = entry w * L + j."""
    ctx.set(dut.sel_one, 0)
    for w in range(len(model) // L):
        ctx.set(dut.word, w)
        await ctx.tick()
        assert [ctx.get(dut.lanes_rd[j]) for j in range(L)] == model[w * L:(w + 1) * L], \
            f"word {w}"


async def check_ones(ctx, dut, model, order):
    ctx.set(dut.sel_one, 1)
    for i in order:
        ctx.set(dut.one_addr, i)
        await ctx.tick()
        assert ctx.get(dut.one_rd) == model[i], f"entry {i}"


@pytest.mark.parametrize("shape,depth,L", CONFIGS, ids=IDS)
def test_one_writes_then_lane_reads(shape, depth, L):
    rng = random.Random(depth * 10 + L)
    dut = LaneBanks(shape, depth, L)
    model = [rand_value(shape, rng) for _ in range(depth)]

    async def bench(ctx):
        idle(ctx, dut)
        order = list(range(depth))
        rng.shuffle(order)
        for i in order:          # back to back, one entry per cycle
            ctx.set(dut.one_waddr, i)
            ctx.set(dut.one_wdata, model[i])
            ctx.set(dut.one_we, 1)
            await ctx.tick()
        ctx.set(dut.one_we, 0)
        await check_words(ctx, dut, model, L)
        await check_ones(ctx, dut, model, reversed(order))

    run(dut, bench)


@pytest.mark.parametrize("shape,depth,L", CONFIGS, ids=IDS)
def test_lane_writes_then_one_reads(shape, depth, L):
    rng = random.Random(depth * 100 + L)
    dut = LaneBanks(shape, depth, L)
    model = [0] * depth

    async def bench(ctx):
        idle(ctx, dut)
        # Fill every word, then rewrite random subsets of lanes.
        plan = [(w, (1 << L) - 1) for w in range(depth // L)]
        plan += [(rng.randrange(depth // L), rng.randrange(1 << L)) for _ in range(3 * depth)]
        for w, mask in plan:
            ctx.set(dut.lanes_waddr, w)
            ctx.set(dut.lanes_we, mask)
            for j in range(L):
                v = rand_value(shape, rng)
                ctx.set(dut.lanes_wr[j], v)
                if mask >> j & 1:
                    model[w * L + j] = v
            await ctx.tick()
        ctx.set(dut.lanes_we, 0)
        order = list(range(depth))
        rng.shuffle(order)
        await check_ones(ctx, dut, model, order)
        await check_words(ctx, dut, model, L)

    run(dut, bench)


@pytest.mark.parametrize("shape,depth,L", CONFIGS, ids=IDS)
def test_transparency(shape, depth, L):
    """A read presented in the cycle that writes the same word returns the new data."""
    rng = random.Random(depth + L)
    dut = LaneBanks(shape, depth, L)
    model = [rand_value(shape, rng) for _ in range(depth)]
    words = depth // L

    async def bench(ctx):
        idle(ctx, dut)
        for i, v in enumerate(model):
            await one_write(ctx, dut, i, v)
        for _ in range(2 * depth):
            # One-entry write + lane-wide read of its word in the same cycle.
            i = rng.randrange(depth)
            model[i] = rand_value(shape, rng)
            ctx.set(dut.sel_one, 0)
            ctx.set(dut.word, i // L)
            ctx.set(dut.one_waddr, i)
            ctx.set(dut.one_wdata, model[i])
            ctx.set(dut.one_we, 1)
            await ctx.tick()
            ctx.set(dut.one_we, 0)
            w = i // L
            assert [ctx.get(dut.lanes_rd[j]) for j in range(L)] == model[w * L:(w + 1) * L]
            # Lane-wide write + one-entry read of an entry of that word in the same cycle.
            w = rng.randrange(words)
            mask = rng.randrange(1, 1 << L)
            for j in range(L):
                v = rand_value(shape, rng)
                ctx.set(dut.lanes_wr[j], v)
                if mask >> j & 1:
                    model[w * L + j] = v
            i = w * L + rng.randrange(L)
            ctx.set(dut.lanes_waddr, w)
            ctx.set(dut.lanes_we, mask)
            ctx.set(dut.sel_one, 1)
            ctx.set(dut.one_addr, i)
            await ctx.tick()
            ctx.set(dut.lanes_we, 0)
            assert ctx.get(dut.one_rd) == model[i], f"entry {i} after lane write of word {w}"
        await check_words(ctx, dut, model, L)

    run(dut, bench)


@pytest.mark.parametrize("shape,depth,L", [c for c in CONFIGS if c[2] > 1],
                         ids=[i for i, c in zip(IDS, CONFIGS) if c[2] > 1])
def test_one_and_lane_writes_to_different_banks_in_one_cycle(shape, depth, L):
    """A one-entry write takes only its own bank: the other lanes of a lane write still land."""
    rng = random.Random(5 * depth + L)
    dut = LaneBanks(shape, depth, L)
    model = [rand_value(shape, rng) for _ in range(depth)]
    words = depth // L

    async def bench(ctx):
        idle(ctx, dut)
        for i, v in enumerate(model):
            await one_write(ctx, dut, i, v)
        for _ in range(2 * depth):
            i = rng.randrange(depth)
            w = rng.randrange(words)
            mask = ((1 << L) - 1) & ~(1 << (i % L))   # every bank but the entry's
            ctx.set(dut.one_waddr, i)
            model[i] = rand_value(shape, rng)
            ctx.set(dut.one_wdata, model[i])
            ctx.set(dut.one_we, 1)
            ctx.set(dut.lanes_waddr, w)
            ctx.set(dut.lanes_we, mask)
            for j in range(L):
                v = rand_value(shape, rng)
                ctx.set(dut.lanes_wr[j], v)
                if mask >> j & 1:
                    model[w * L + j] = v
            await ctx.tick()
            idle(ctx, dut)
        await check_words(ctx, dut, model, L)

    run(dut, bench)
