"""The chip top (rtl/chip.py) in amaranth.sim: docs/protocol.md's worked examples, byte for byte.

The same session the protocol document shows (golden/emulator.py
``protocol_examples``: a two-core chip of 4-neuron cores) is sent to the RTL
chip; every reply must equal the emulator's, except the ``cycles`` field of
a RUN reply, which the RTL fills with the clock cycles the run took.  The
long randomized runs and the fuzz are the cocotb tests (cocotb_tests/test_chip.py).
"""

from sal_hw.golden.emulator import EXAMPLE_PARAMS, protocol_examples
from sal_hw.golden.protocol import cobs_decode, crc16
from sal_hw.rtl.chip import SALChip

from rtl_sim import run, send_bytes

WATCHDOG = 20_000


def exchange(dut, requests):
    """Send each wire request, collect the reply (up to its 00, or nothing); returns a list."""
    replies = []

    async def bench(ctx):
        ctx.set(dut.tx.ready, 1)
        for wire, want in requests:
            await send_bytes(ctx, dut.rx, wire)
            got = bytearray()
            if want:     # the emulator answers: wait for the whole reply
                for _ in range(WATCHDOG):
                    await ctx.tick()
                    if ctx.get(dut.tx.valid):
                        got.append(ctx.get(dut.tx.payload))
                        if got[-1] == 0:
                            break
                else:
                    raise AssertionError(f"no complete reply within {WATCHDOG} cycles: "
                                         f"{bytes(got).hex()}")
            else:        # no reply expected: none may come
                for _ in range(200):
                    await ctx.tick()
                    assert not ctx.get(dut.tx.valid), "a reply to an ignored frame"
            replies.append(bytes(got))

    run(dut, bench)
    return replies


def same_but_cycles(got, want):
    g, w = cobs_decode(got[:-1]), cobs_decode(want[:-1])
    return len(g) == len(w) == 16 and g[:6] == w[:6] and \
        int.from_bytes(g[-2:], "little") == crc16(g[:-2])


def test_protocol_examples_byte_for_byte():
    examples = protocol_examples()
    dut = SALChip(EXAMPLE_PARAMS, cores=2, lanes=1, route_entries=16, inject_depth=8)
    replies = exchange(dut, [(wire, want) for _, wire, want in examples])
    run_reply = None
    for (title, _, want), got in zip(examples, replies):
        if title.startswith("RUN"):
            assert same_but_cycles(got, want), f"{title}: {got.hex()} != {want.hex()}"
            cycles = int.from_bytes(cobs_decode(got[:-1])[6:14], "little")
            assert 3 * 20 < cycles < 3 * 400, cycles
            run_reply = got
        elif title.startswith("The same RUN"):
            assert got == run_reply, "the retransmission differs from the first reply"
        else:
            assert got == want, f"{title}: {got.hex()} != {want.hex()}"


def test_reset_returns_every_core_to_its_reset_state():
    """A reset in the middle of a session resets the cores too (each core's reset is a
    register of the chip reset, rtl/chip.py): a written configuration register reads back
    as after power-up."""
    from amaranth.hdl import ClockDomain, Module

    from sal_hw.golden import protocol as pr
    from sal_hw.golden.chip import FixedChip
    from sal_hw.golden.emulator import ChipEmulator
    from sal_hw.golden.spaces import Config, Space

    def emulator():
        return ChipEmulator(FixedChip(EXAMPLE_PARAMS, 2, route_entries=16, inject_depth=8))

    before = emulator()
    info = before.info.space_info(1, Space.CONFIG)
    write = pr.Write.of(1, Space.CONFIG, Config.TAU_REF, [7], info).wire(1)
    read = pr.Read(1, Space.CONFIG, Config.TAU_REF, 1).wire(1)
    want_written = before.feed(write)
    want_read_written = emulator()
    want_read_written.feed(write)
    want_after_reset = emulator().feed(read)
    assert want_read_written.feed(read) != want_after_reset   # the test can tell them apart

    dut = SALChip(EXAMPLE_PARAMS, cores=2, lanes=1, route_entries=16, inject_depth=8)
    top = Module()
    top.domains.sync = sync = ClockDomain("sync")
    top.submodules.chip = dut
    got = []

    async def send(ctx, wire):
        await send_bytes(ctx, dut.rx, wire)
        reply = bytearray()
        for _ in range(WATCHDOG):
            await ctx.tick()
            if ctx.get(dut.tx.valid):
                reply.append(ctx.get(dut.tx.payload))
                if reply[-1] == 0:
                    return bytes(reply)
        raise AssertionError(f"no complete reply: {bytes(reply).hex()}")

    async def bench(ctx):
        ctx.set(dut.tx.ready, 1)
        got.append(await send(ctx, write))
        ctx.set(sync.rst, 1)
        await ctx.delay(3e-6)            # three clock periods (a tick would raise DomainReset)
        ctx.set(sync.rst, 0)
        await ctx.tick().repeat(50)
        got.append(await send(ctx, read))

    run(top, bench)
    assert got[0] == want_written, got[0].hex()
    assert got[1] == want_after_reset, f"{got[1].hex()} != {want_after_reset.hex()}"
