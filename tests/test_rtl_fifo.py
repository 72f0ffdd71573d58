# amaranth: UnusedElaboratable=no
"""rtl/fifo.py StreamFIFO against a Python deque: order, level, ready exactly when not full,
an entry visible the cycle after it was written."""

import random
from collections import deque

import pytest

from rtl_sim import run
from sal_hw.rtl.fifo import StreamFIFO


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 7])
def test_fifo_against_deque(depth):
    rng = random.Random(depth)
    dut = StreamFIFO(range(100), depth)
    model = deque()
    pushed = [0]

    async def bench(ctx):
        for cycle in range(3000):
            p_in, p_out = [(0.9, 0.9), (0.9, 0.3), (0.3, 0.9), (1.0, 1.0)][cycle // 250 % 4]
            valid = rng.random() < p_in
            ready = rng.random() < p_out
            ctx.set(dut.w.valid, valid)
            ctx.set(dut.w.payload, pushed[0] % 100)
            ctx.set(dut.r.ready, ready)
            assert ctx.get(dut.level) == len(model)
            assert ctx.get(dut.w.ready) == (len(model) != depth)
            assert ctx.get(dut.r.valid) == bool(model)
            if model:
                assert ctx.get(dut.r.payload) == model[0]
            push = valid and ctx.get(dut.w.ready)
            pop = bool(model) and ready
            await ctx.tick()
            if pop:
                model.popleft()
            if push:
                model.append(pushed[0] % 100)
                pushed[0] += 1
        assert pushed[0] > 1000

    run(dut, bench)


def test_fifo_depth_error():
    with pytest.raises(ValueError, match="FIFO depth must be a positive integer, not 0"):
        StreamFIFO(8, 0)
