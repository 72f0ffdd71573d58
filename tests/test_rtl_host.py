# amaranth: UnusedElaboratable=no
"""Host interface details the chip-level tests cannot reach: the FRAMES_* counters in the
frame buffer (cleared at reset, saturating at 2**32 - 1, carry across bytes)."""

from amaranth.sim import Simulator

from sal_hw.golden.emulator import EXAMPLE_PARAMS
from sal_hw.golden.protocol import cobs_decode, cobs_encode, crc16
from sal_hw.rtl.host import _COUNTERS_AT, HostInterface

from rtl_sim import send_bytes

INFO, STATUS = 8, 6


def _frame(seq, op):
    body = bytes([seq, op])
    return cobs_encode(body + crc16(body).to_bytes(2, "little")) + b"\0"


def _run(preset, requests):
    """Host alone (no core answers: INFO and STATUS need none) with the counter bytes set to
    ``preset`` before reset ends; returns the decoded replies."""
    dut = HostInterface(EXAMPLE_PARAMS, 2, 16, 8)
    m = dut.elaborate(None)
    frame_mem = m.submodules.frame
    replies = []

    async def bench(ctx):
        for i, value in enumerate(preset):
            ctx.set(frame_mem.data[_COUNTERS_AT + i], value)
        ctx.set(dut.tx.ready, 1)
        for wire in requests:
            await send_bytes(ctx, dut.rx, wire)
            got = bytearray()
            while not got or got[-1] != 0:
                await ctx.tick()
                if ctx.get(dut.tx.valid):
                    got.append(ctx.get(dut.tx.payload))
            replies.append(cobs_decode(bytes(got[:-1])))
            if len(replies) == 1:   # after reset (its CLEAR) the counters are the test's
                for i, value in enumerate(preset):
                    ctx.set(frame_mem.data[_COUNTERS_AT + i], value)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return replies


def _counters(status_reply):
    """FRAMES_ACCEPTED and FRAMES_REJECTED of a STATUS reply."""
    body = status_reply[2:-2]
    return int.from_bytes(body[8:12], "little"), int.from_bytes(body[12:16], "little")


def test_counters_cleared_at_reset():
    replies = _run([0x55] * 12, [_frame(1, STATUS)])
    assert _counters(replies[0]) == (0, 0)


def test_counters_saturate_and_carry():
    preset = [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0x00, 0x01, 0x00] + [0] * 4
    # the first reply comes before the preset; the INFO is accepted: 2**32 - 1 stays
    replies = _run(preset, [_frame(1, INFO), _frame(2, INFO), _frame(3, STATUS)])
    assert _counters(replies[2]) == (0xFFFFFFFF, 0x000100FF)
    replies = _run(preset[4:8] + preset[:4], [_frame(1, INFO), _frame(2, INFO), _frame(3, STATUS)])
    assert _counters(replies[2]) == (0x00010100, 0xFFFFFFFF)
