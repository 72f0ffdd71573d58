"""COBS writer: frames encoded as they are written, against the golden cobs_encode."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from sal_hw.golden.protocol import cobs_encode
from sal_hw.rtl.cobs import COBSWriter

DEPTH = 1200


def write_frames(frames, seed=0, gaps=0.3):
    """Write each (base, bytes) with random idle cycles between bytes (and one at least
    every 200 bytes, as the writer needs); returns the buffer bytes base .. end - 1 of
    each frame after its close."""
    m = Module()
    m.submodules.writer = dut = COBSWriter(DEPTH)
    m.submodules.mem = mem = Memory(shape=8, depth=DEPTH, init=[])
    wp = mem.write_port()
    m.d.comb += [wp.addr.eq(dut.wr_addr), wp.data.eq(dut.wr_data), wp.en.eq(dut.wr_en)]
    rng = random.Random(seed)
    got = []

    async def tb(ctx):
        for base, data in frames:
            ctx.set(dut.begin, 1)
            ctx.set(dut.base, base)
            await ctx.tick()
            ctx.set(dut.begin, 0)
            for i, byte in enumerate(data):
                ctx.set(dut.valid, 1)
                ctx.set(dut.data, byte)
                await ctx.tick()
                ctx.set(dut.valid, 0)
                if i % 200 == 199:
                    await ctx.tick()
                while rng.random() < gaps:
                    await ctx.tick()
            ctx.set(dut.close, 1)
            await ctx.tick().until(~dut.pending)
            await ctx.tick()
            ctx.set(dut.close, 0)
            end = ctx.get(dut.end)
            got.append(bytes(ctx.get(mem.data[i]) for i in range(base, end)))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got


def _frame(rng, n, zeros):
    return bytes(0 if rng.random() < zeros else rng.randrange(1, 256) for _ in range(n))


@pytest.mark.parametrize("gaps", [0.0, 0.5])
def test_block_edges(gaps):
    frames = [b"", b"\x00", b"\x00\x00", b"\x01", bytes(range(1, 254)),
              bytes([7] * 254), bytes([7] * 254) + b"\x00", bytes([7] * 255),
              bytes([7] * 508), bytes([7] * 254) + b"\x00" + bytes([9] * 254),
              bytes([0] * 300), bytes([5] * 1033)]
    frames = [(17 * i % 100, f) for i, f in enumerate(frames)]
    assert write_frames(frames, gaps=gaps) == [cobs_encode(f) for _, f in frames]


def test_random_frames():
    rng = random.Random(1)
    frames = [(rng.randrange(100), _frame(rng, rng.randrange(0, 1000), rng.choice([0, 0.01, 0.3])))
              for _ in range(30)]
    assert write_frames(frames, seed=2) == [cobs_encode(f) for _, f in frames]
