"""rtl/banks.py LaneBanks: entry i in bank i mod L at word i / L; one-entry and lane-wide ports.

Timing (module docstring): an address in cycle c gives data (``one_rd`` and
``lanes_rd``) in cycle c + 2, reads are transparent to writes, writes take
effect at the end of the cycle.  Reads are streamed, a new address every
cycle, and each checked two cycles later against the contents as they were
when its address was presented (writes in between must not show).
"""

import random

import pytest
from amaranth.hdl import signed, unsigned

from rtl_sim import run, stream
from sal_hw.rtl.banks import LaneBanks

CONFIGS = [(unsigned(12), 16, 1), (unsigned(12), 16, 2), (signed(28), 16, 4),
           (signed(28), 16, 8), (unsigned(5), 8, 8), (signed(28), 32, 4)]
IDS = [f"{'s' if s.signed else 'u'}{s.width}_d{d}_L{L}" for s, d, L in CONFIGS]
LATENCY = 2    # address to data


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


async def check_reads(ctx, dut, sel_one, addrs, read, want):
    """Reads of ``addrs`` (entries if ``sel_one``, else words) streamed one per cycle, each
    checked LATENCY cycles later: ``read()`` must give ``want(addr)``."""
    def present(addr, memo):
        if addr is not None:
            ctx.set(dut.sel_one, sel_one)
            ctx.set(dut.one_addr if sel_one else dut.word, addr)

    def check(addr, memo):
        if addr is not None:
            assert read() == want(addr), f"{'entry' if sel_one else 'word'} {addr}"

    await stream(ctx, addrs, [(0, present), (LATENCY, check)])


async def check_words(ctx, dut, model, L):
    """Lane-wide reads of every word, pipelined: lane j of word w = entry w * L + j."""
    await check_reads(ctx, dut, 0, range(len(model) // L),
                      lambda: [ctx.get(dut.lanes_rd[j]) for j in range(L)],
                      lambda w: model[w * L:(w + 1) * L])


async def check_ones(ctx, dut, model, order):
    """One-entry reads in ``order``, pipelined."""
    await check_reads(ctx, dut, 1, order, lambda: ctx.get(dut.one_rd), lambda i: model[i])


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

    def one_write_lane_read(ctx, item, memo):
        """One-entry write + lane-wide read of its word in the same cycle."""
        i, v = item
        model[i] = v
        ctx.set(dut.sel_one, 0)
        ctx.set(dut.word, i // L)
        ctx.set(dut.one_waddr, i)
        ctx.set(dut.one_wdata, v)
        ctx.set(dut.one_we, 1)
        memo["want"] = model[i // L * L:(i // L + 1) * L]
        memo["got"] = lambda: [ctx.get(dut.lanes_rd[j]) for j in range(L)]
        memo["what"] = f"word {i // L} after one write of entry {i}"

    def lane_write_one_read(ctx, item, memo):
        """Lane-wide write + one-entry read of an entry of that word in the same cycle."""
        w, mask, values, i = item
        for j, v in enumerate(values):
            ctx.set(dut.lanes_wr[j], v)
            if mask >> j & 1:
                model[w * L + j] = v
        ctx.set(dut.lanes_waddr, w)
        ctx.set(dut.lanes_we, mask)
        ctx.set(dut.sel_one, 1)
        ctx.set(dut.one_addr, i)
        memo["want"] = model[i]
        memo["got"] = lambda: ctx.get(dut.one_rd)
        memo["what"] = f"entry {i} after lane write of word {w}"

    # The two kinds alternate, back to back; each read is checked two cycles later,
    # after the next item's write to the same banks.
    items = []
    for _ in range(2 * depth):
        i = rng.randrange(depth)
        items.append((one_write_lane_read, (i, rand_value(shape, rng))))
        w = rng.randrange(words)
        items.append((lane_write_one_read, (w, rng.randrange(1, 1 << L),
                                            [rand_value(shape, rng) for _ in range(L)],
                                            w * L + rng.randrange(L))))

    async def bench(ctx):
        idle(ctx, dut)
        for i, v in enumerate(model):
            await one_write(ctx, dut, i, v)

        def present(item, memo):
            idle(ctx, dut)
            if item is not None:
                kind, args = item
                kind(ctx, args, memo)

        def check(item, memo):
            if item is not None:
                assert memo["got"]() == memo["want"], memo["what"]

        await stream(ctx, items, [(0, present), (LATENCY, check)])
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
