"""cocotb testbench of a board's design (boards/top.py) on its UART line, against the emulator.

The DUT (``sal_board_<board>``, built by test_board.py) is
``BoardTop(BOARDS[board], sim=True)``: the board's design without the PLL
and the pins, the ``sync`` domain clocked by the testbench at the board's
core clock:

    rx line -> UARTRx -> FIFO -> SALChip -> UARTTx -> tx line;   leds[3]

The testbench is the host at the other end of the serial cable: every frame
it sends is bit-banged on ``rx`` at the board's baud rate (tb_uart.py's
driver: a Timer per bit, on an exact schedule, sometimes idle time between
bytes) and goes to a ``ChipEmulator`` (golden/emulator.py) as well; the
reply is decoded from ``tx`` (tb_uart.py's monitor: a falling edge, then a
Timer to every mid-bit) and must equal the emulator's frame by frame
(tb_chip.py's ``Link._compare``: a RUN reply's 8-byte ``cycles`` field,
implementation-defined, is left out, its CRC checked).

``board_cycle``: one load-run-readback cycle, as a host does it:
INFO (checked against the board configuration), the WRITEs of
golden/transfer.py's ``load_requests`` for a placed recurrent network, a
CHECKSUM of WEIGHT (also against ``expected_checksum``), an INJECT, RUN of
SAL_STEPS steps in a few RUNs (SPIKES read after each), an APPLY, then every
space of every core and of the chip read back whole (tb_chip ``read_all``),
and STATUS.  Spikes must have happened (else the comparison is vacuous).

LEDs: heartbeat (leds[0]) toggles every f_core / 3 cycles (1/3 s), too slow
to simulate, so it must still be low; link activity (leds[1]) must be low after reset and high from the
first byte on; framing error or overrun (leds[2]) must stay low.  With SAL_LED_DECAY=1
the line then stays idle for the activity LED's stretch time (f_core / 50
cycles, 20 ms) and leds[1] must go low again.

Every exchange has a watchdog (with_timeout) from the frame's bit time and
the chip's work: a hang fails with the request in flight.  Nothing may
arrive on ``tx`` beyond the replies.

Environment: SAL_BOARD (a key of boards.top.BOARDS, "icebreaker"), SAL_SEED
(1), SAL_STEPS (100), SAL_BAUD_PCT (the host's baud rate off by this many per
cent, 0), SAL_LED_DECAY (0), SAL_FAULT (self-test of the testbench: 1 the
emulator's WEIGHT[0] changed after the load, the CHECKSUM reply must differ;
2 INFO's closing 00 lost on the line, the watchdog must fire; 0 none).
"""

import logging
import os
import random
import struct
import time

import cocotb
from cocotb.triggers import Event, Timer, with_timeout
from cocotb.utils import get_sim_time

from sal_hw.boards.top import BOARDS
from sal_hw.golden.chip import FixedChip, place
from sal_hw.golden.network import recurrent
from sal_hw.golden.protocol import (CHIP, Apply, Checksum, ChipInfo, InfoRequest, Inject, Run,
                                    StatusRequest)
from sal_hw.golden.spaces import Space, space_info
from sal_hw.golden.transfer import expected_checksum
from sal_hw.rtl.uart import uart_divisor
from tb_chip import Emulator, Link, _step_bound
from tb_uart import TB as UARTLine
from tb_uart import frame_bits

log = logging.getLogger("cocotb.board")
log.setLevel(logging.INFO)

LED_HEARTBEAT, LED_ACTIVITY, LED_FRAMING = 0, 1, 2


def _env_int(name, default):
    return int(os.environ.get(name, default))


class BoardChip:
    """The chip configuration of a board, shaped like tb_chip's ChipConfig for its Link."""

    def __init__(self, board):
        self.board = board
        self.p = board.params
        self.K = board.cores
        self.lanes = board.lanes
        self.D = board.route_entries
        self.Q = board.inject_depth

    def fresh(self):
        return FixedChip(self.p, self.K, route_entries=self.D, inject_depth=self.Q,
                         lanes=self.lanes)


class Line(UARTLine):
    """tb_uart's rx driver and tx monitor at the board's core clock and divisor.

    The clock period is the core clock's in an even number of picoseconds (30 MHz:
    33,334 ps, 29.9994 MHz);
    the monitor's bit time is the DUT's (divisor x period), the driver's the
    host's (1 / baud, times 1 / (1 + offset)).  Every decoded byte sets ``arrived``.
    """

    def __init__(self, dut, f_core, baud, offset=0.0):
        divisor, _ = uart_divisor(f_core, baud)
        super().__init__(dut, bit_ps=1e12 / baud / (1 + offset),
                         clk_ps=2 * round(1e12 / f_core / 2),   # cocotb's Clock: an even period
                         divisor=divisor)
        self.arrived = Event()

    def byte_received(self, byte):
        self.arrived.set()

    async def wait_bytes(self, n):
        while len(self.received) < n:
            self.arrived.clear()
            await self.arrived.wait()

    def frame_ps(self, n_bytes):
        """Line time of ``n_bytes`` frames sent back to back by the DUT."""
        return n_bytes * 10 * self.divisor * self.clk_ps


class BoardLink(Link):
    """tb_chip's host Link, its bytes going over the UART line instead of the chip's streams.

    ``call``, ``read_space``, ``read_all``, ``load`` and the reply comparison are
    tb_chip's; ``exchange`` bit-bangs the request and decodes the reply.
    """

    def __init__(self, dut, cfg, rng, line, gaps=0.2):
        super().__init__(dut, cfg, rng)
        self.line = line
        self.drop_last = False    # self-test: the frame's last byte never reaches the line
        self.gaps = gaps          # probability of idle time after a byte
        self.bytes_out = 0
        self.bytes_in = 0
        self.reply_ps = []        # (request, ps from its last bit to the reply's first)

    async def start(self):
        await self.line.start()
        self.emu = Emulator(self.cfg.fresh())
        self.dut_last_ack = None

    async def reset(self):
        raise NotImplementedError("one cycle from the power-up state")

    async def _send(self, wire):
        line, rng = self.line, self.rng
        if self.drop_last:
            wire = wire[:-1]
        for byte in wire:
            await line.send_frame(frame_bits(byte))
            if rng.random() < self.gaps:
                await line.idle(rng.choice([0.3, 1, 2.7]))

    async def exchange(self, wire, timeout_cycles=None):
        """Send ``wire`` on rx and to the emulator; the bytes decoded from tx must match."""
        line = self.line
        kinds_before = len(self.emu.kinds)
        want = self.emu.feed(wire)
        kinds = self.emu.kinds[kinds_before:]
        assert not line.received, f"stray bytes on tx before {self.what}: " \
                                  f"{bytes(line.received).hex()}"
        # the watchdog: the request's line time (gaps included) plus the chip's work
        # (a 1024-word READ, WRITE or CHECKSUM: some 12,400 cycles at 32 x 32) plus the
        # reply's line time, with 10 % to spare
        work = timeout_cycles or 50_000 + 40 * (len(wire) + len(want))
        work_ps = work * line.clk_ps
        send_ps = len(wire) * 13 * line.bit_ps * 1.1
        recv_ps = line.frame_ps(len(want)) * 1.1 + work_ps
        await with_timeout(self._send(wire), round(send_ps), "ps")
        t_sent = get_sim_time("ps")
        try:
            await with_timeout(line.wait_bytes(1 if want else 0), round(work_ps), "ps")
            t_first = get_sim_time("ps")
            await with_timeout(line.wait_bytes(len(want)), round(recv_ps), "ps")
        except TimeoutError:
            got = bytes(line.received)
            raise AssertionError(
                f"watchdog: {len(got)} of {len(want)} reply bytes on tx "
                f"within the bound after {self.what or wire.hex()} ({self.frames} frames "
                f"before); got {got.hex()}, expected {want.hex()}") from None
        got = bytes(line.received.popleft() for _ in range(len(want)))
        self.reply_ps.append((self.what or "raw", t_first - t_sent))
        self.frames += len(kinds)
        self.bytes_out += len(wire)
        self.bytes_in += len(got)
        assert not line.monitor_errors, line.monitor_errors[:5]
        self._check(got, want, kinds, wire)
        return got


def leds(dut):
    return dut.leds.value.to_unsigned()


def led(dut, i):
    return (leds(dut) >> i) & 1


@cocotb.test()
async def board_cycle(dut):
    board = BOARDS[os.environ.get("SAL_BOARD", "icebreaker")]
    seed = _env_int("SAL_SEED", 1)
    steps = _env_int("SAL_STEPS", 100)
    offset = float(os.environ.get("SAL_BAUD_PCT", "0")) / 100
    fault = _env_int("SAL_FAULT", 0)
    rng = random.Random(seed)
    cfg = BoardChip(board)
    p = cfg.p
    wall0 = time.monotonic()

    line = Line(dut, board.f_core, board.baud, offset)
    link = BoardLink(dut, cfg, rng, line)
    await link.start()
    log.info("%s: core clock %.4g MHz (period %d ps), %g baud, divisor %d; host baud "
             "%+.1f %%", board.name, 1e6 / line.clk_ps, line.clk_ps, board.baud,
             line.divisor, offset * 100)
    assert led(dut, LED_ACTIVITY) == 0, f"activity LED on before any traffic: {leds(dut):03b}"
    assert led(dut, LED_FRAMING) == 0, f"framing-error LED on after reset: {leds(dut):03b}"
    await line.idle(3 + rng.random())   # a random phase against the clock

    # INFO: the board must describe its build configuration
    if fault == 2:
        log.info("self-test: INFO's delimiter is lost on the line; the watchdog must fire")
        link.drop_last = True
    info = ChipInfo.parse(await link.call(InfoRequest()))
    assert (info.cores, info.params, info.lanes, info.route_entries, info.inject_depth) == \
        (board.cores, p, board.lanes, board.route_entries, board.inject_depth), info
    assert led(dut, LED_ACTIVITY) == 1, f"activity LED off after INFO: {leds(dut):03b}"

    # load a placed recurrent network
    net = recurrent(n=min(24, p.neurons * cfg.K, p.axons), tau=4, eta=0.5, seed=seed)
    net.kernel = net.kernel[:p.history]
    chip = place(net, p, cfg.K, apply_period=25).chip(route_entries=cfg.D,
                                                      inject_depth=cfg.Q, lanes=cfg.lanes)
    t_load = get_sim_time("ps")
    await link.load(chip)
    load_frames, load_bytes = link.frames, link.bytes_out
    if fault == 1:
        w = link.emu.chip.cores[0].read(Space.WEIGHT, 0, 1)[0]
        log.info("self-test: the emulator's WEIGHT[0] %d changed behind the board's back", w)
        link.emu.chip.cores[0].write(Space.WEIGHT, 0, [w - 1 if w > 0 else w + 1])
    weight_depth = space_info(p, Space.WEIGHT).depth
    for c in range(cfg.K):
        crc = struct.unpack("<I", await link.call(Checksum(c, int(Space.WEIGHT), 0,
                                                           weight_depth)))[0]
        assert crc == expected_checksum(chip, c, Space.WEIGHT), f"core {c}: WEIGHT checksum"
    log.info("loaded %s (%d neurons) in %d WRITE frames, %d bytes, %.2f ms on the line",
             net.name, net.size, load_frames - 1, load_bytes,
             (get_sim_time("ps") - t_load) / 1e9)

    # inject, run in a few RUNs, apply
    now = link.emu.chip.step_count
    axons = tuple(sorted(rng.sample(range(p.axons), min(5, cfg.Q))))
    await link.call(Inject(now + 2, 0, axons))
    cuts = sorted(rng.sample(range(1, steps), 3)) if steps > 3 else []
    chunks = [b - a for a, b in zip([0] + cuts, cuts + [steps])]
    for chunk in chunks:
        await link.call(Run(chunk), timeout_cycles=100_000 + chunk * 4 * _step_bound(cfg))
        for c in range(cfg.K):
            await link.read_space(c, Space.SPIKES)
    await link.call(Apply(CHIP))

    # read everything back
    await link.read_all()
    status = struct.unpack("<IIIIH", await link.call(StatusRequest()))
    await line.idle(30)
    assert not line.received, f"stray bytes on tx: {bytes(line.received).hex()}"
    assert not line.monitor_errors, line.monitor_errors[:5]

    emu = link.emu.chip
    spikes = sum(sum(c.read(Space.SPIKE_COUNT)) for c in emu.cores)
    assert emu.step_count == steps and status[0] == steps, status
    assert spikes > 0, "no neuron fired: the comparison is vacuous"
    assert led(dut, LED_ACTIVITY) == 1, f"activity LED off during traffic: {leds(dut):03b}"
    assert led(dut, LED_FRAMING) == 0, f"framing-error LED on: {leds(dut):03b}"
    # the heartbeat toggles after f_core / 3 cycles (1/3 s), far beyond this
    # simulation: it must not have toggled yet
    assert led(dut, LED_HEARTBEAT) == 0, f"heartbeat LED on already: {leds(dut):03b}"
    waits = sorted(ps for _, ps in link.reply_ps)
    log.info("%d frames, %d bytes to the board, %d bytes back (%d in all), %.2f ms simulated, "
             "%.1f s wall; %d steps in RUNs of %s, %d spikes, %d events routed, "
             "RUN cycles %s; reply latency median %.2f us, max %.2f us (%s)",
             link.frames, link.bytes_out, link.bytes_in, link.bytes_out + link.bytes_in,
             get_sim_time("ps") / 1e9, time.monotonic() - wall0, steps, chunks, spikes,
             emu.events_routed, link.run_cycles, waits[len(waits) // 2] / 1e6,
             waits[-1] / 1e6, max(link.reply_ps, key=lambda x: x[1])[0])

    by_op = {}
    for what, ps in link.reply_ps:
        by_op.setdefault(what.split("(")[0], []).append(ps / 1e6)
    log.info("first reply byte decoded, us after the request's last bit (min..max): %s",
             ", ".join(f"{op} {min(v):.1f}..{max(v):.1f}" for op, v in by_op.items()))

    if _env_int("SAL_LED_DECAY", 0):
        # the last event was the last reply byte's handshake, about one frame plus the 30
        # idle bits (some 400 cycles) ago: on until then + stretch, off after
        stretch = int(board.f_core // 50)
        await Timer((stretch - 1000) * line.clk_ps, unit="ps")
        assert led(dut, LED_ACTIVITY) == 1, \
            f"activity LED off before its {stretch}-cycle stretch: {leds(dut):03b}"
        await Timer(1500 * line.clk_ps, unit="ps")
        assert led(dut, LED_ACTIVITY) == 0, \
            f"activity LED still on {stretch} cycles after the last byte: {leds(dut):03b}"
        log.info("activity LED off again %d cycles after the last byte", stretch)
