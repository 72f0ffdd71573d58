"""CRC-16/CCITT-FALSE and CRC-32 units against their check values and zlib."""

import random
import zlib

from amaranth.sim import Simulator

from sal_hw.rtl.crc import CRC16, CRC32, crc16_step

from reference import crc16_bitwise as crc16_reference

CHECK = b"123456789"


def run_unit(dut, frames):
    """Feed each frame (clear first; each byte when the unit is ``ready``, if it says)
    and return the CRC after each."""
    out = []

    async def bench(ctx):
        for frame in frames:
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            for i, byte in enumerate(frame):
                ctx.set(dut.valid, 1)
                ctx.set(dut.data, byte)
                await ctx.tick().until(getattr(dut, "ready", 1))
                if i % 3 == 2:   # idle cycles in between change nothing
                    ctx.set(dut.valid, 0)
                    await ctx.tick()
            ctx.set(dut.valid, 0)
            if hasattr(dut, "ready"):   # the last byte's bits
                await ctx.tick().until(dut.ready)
            out.append(ctx.get(dut.crc))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


def test_reference_check_values():
    assert crc16_reference(CHECK) == 0x29B1
    crc = 0xFFFF
    for byte in CHECK:
        crc = crc16_step(crc, byte)
    assert crc == 0x29B1


def test_crc16_unit():
    rng = random.Random(3)
    frames = [CHECK, b"", b"\x00", b"\xff" * 7] + [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(20)]
    assert run_unit(CRC16(), frames) == [crc16_reference(f) for f in frames]


def test_crc32_unit():
    rng = random.Random(4)
    frames = [CHECK, b"", b"\x00\x00", b"\xff" * 9] + [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(20)]
    got = run_unit(CRC32(), frames)
    assert got[0] == 0xCBF43926
    assert got == [zlib.crc32(f) for f in frames]
