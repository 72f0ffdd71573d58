"""COBS decoder: random frames, the 254/255-byte block edges, bad frames, backpressure."""

import random

from amaranth.sim import Simulator

from sal_hw.rtl.cobs import COBSDecoder

from reference import cobs_encode


def decode(wire, seed=0, stall=0.3):
    """Run the decoder on ``wire``; returns [(bytes, error)] per end marker."""
    dut = COBSDecoder()
    rng = random.Random(seed)
    frames, current = [], bytearray()

    async def source(ctx):
        for byte in wire:
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, byte)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            if rng.random() < stall:
                await ctx.tick()

    async def sink(ctx):
        nonlocal current
        while True:
            ready = rng.random() >= stall
            ctx.set(dut.o.ready, ready)
            valid = ctx.get(dut.o.valid)
            payload = ctx.get(dut.o.payload)
            await ctx.tick()
            if valid and ready:
                if payload.end:
                    frames.append((bytes(current), bool(payload.error)))
                    current = bytearray()
                else:
                    current.append(payload.data)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source)
    sim.add_testbench(sink, background=True)
    sim.run_until(1e-6 * (4 * len(wire) + 100))
    return frames


def test_known_vectors():
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs_encode(bytes(range(1, 255))) == b"\xff" + bytes(range(1, 255)) + b"\x01"


def test_random_frames_round_trip():
    rng = random.Random(1)
    payloads = [b"", b"\x00", b"\x00\x00", bytes(range(1, 255)), bytes(range(1, 256)),
                bytes(range(0, 256)), b"\x01" * 254 + b"\x00", b"\x01" * 253]
    payloads += [bytes(rng.choice([0, rng.randrange(256)]) for _ in range(rng.randrange(1, 600)))
                 for _ in range(12)]
    wire = b"".join(cobs_encode(p) + b"\x00" for p in payloads)
    frames = decode(wire, seed=2)
    assert frames == [(p, False) for p in payloads]


def test_cut_block_is_an_error_and_the_next_frame_decodes():
    good = b"\x10\x00\x20"
    wire = b"\x05\x01\x02\x00" + cobs_encode(good) + b"\x00" + b"\x00"
    frames = decode(wire, seed=3, stall=0.0)
    assert frames == [(b"\x01\x02", True), (good, False), (b"", False)]
