# amaranth: UnusedElaboratable=no
"""rtl/slice.py StreamSlice against a two-entry queue model: order, no loss, full rate,
and every output from registers (nothing on ``w.ready``, ``r.valid`` or ``r.payload``
moves when the other side's inputs change within a cycle)."""

import random
from collections import deque

from rtl_sim import run
from sal_hw.rtl.slice import StreamSlice


def test_slice_against_queue_model():
    rng = random.Random(7)
    dut = StreamSlice(range(256))
    model = deque()
    sent, got = [0], []

    async def bench(ctx):
        for cycle in range(4000):
            p_in, p_out = [(0.9, 0.9), (0.9, 0.3), (0.3, 0.9), (1.0, 1.0), (1.0, 0.5)][
                cycle // 200 % 5]
            valid, ready = rng.random() < p_in, rng.random() < p_out
            # Outputs before this cycle's inputs are applied ...
            before = (ctx.get(dut.w.ready), ctx.get(dut.r.valid), ctx.get(dut.r.payload))
            ctx.set(dut.w.valid, valid)
            ctx.set(dut.w.payload, sent[0] % 256)
            ctx.set(dut.r.ready, ready)
            # ... are the same after: they come from registers only.
            assert (ctx.get(dut.w.ready), ctx.get(dut.r.valid), ctx.get(dut.r.payload)) == before
            assert ctx.get(dut.w.ready) == (len(model) < 2)
            assert ctx.get(dut.r.valid) == bool(model)   # empty exactly when r.valid is low
            if model:
                assert ctx.get(dut.r.payload) == model[0]
            push = valid and len(model) < 2
            pop = bool(model) and ready
            await ctx.tick()
            if pop:
                got.append(model.popleft())
            if push:
                model.append(sent[0] % 256)
                sent[0] += 1
        assert got == [i % 256 for i in range(len(got))]
        assert len(got) > 2000

    run(dut, bench)


def test_slice_full_rate():
    """With both sides always willing, one entry per cycle, one cycle late."""
    dut = StreamSlice(8)

    async def bench(ctx):
        ctx.set(dut.r.ready, 1)
        ctx.set(dut.w.valid, 1)
        for i in range(50):
            ctx.set(dut.w.payload, i)
            assert ctx.get(dut.w.ready)
            if i:
                assert ctx.get(dut.r.valid) and ctx.get(dut.r.payload) == i - 1
            await ctx.tick()

    run(dut, bench)


def test_unregistered_slice_is_a_wire():
    dut = StreamSlice(8, registered=False)

    async def bench(ctx):
        for valid, ready, payload in [(1, 0, 5), (0, 1, 9), (1, 1, 200), (0, 0, 3)]:
            ctx.set(dut.w.valid, valid)
            ctx.set(dut.w.payload, payload)
            ctx.set(dut.r.ready, ready)
            assert (ctx.get(dut.r.valid), ctx.get(dut.r.payload), ctx.get(dut.w.ready)) == \
                (valid, payload, ready)

    run(dut, bench, clock=False)
