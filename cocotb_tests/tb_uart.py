"""cocotb testbench of the UART PHY at 3 Mbaud: a loopback top echoes what it receives.

The DUT (``uart_loopback``, built by test_uart.py) is ``UART(48 MHz, 3 Mbaud)``
(divisor 16) whose received bytes go through a FIFO back to its transmitter:

    rx pin -> UARTRx -> rx_data -> FIFO -> tx_data -> UARTTx -> tx pin
    framing_errors, overruns: the receiver's counters, as output ports

The testbench bit-bangs ``rx`` from Python with Timer waits (one per bit, at
real 3 Mbaud timing, optionally off by some per cent), sending random bytes
with random idle time, some back to back, and in between bad frames (stop bit
low, then the line back high) and one break.  A monitor decodes ``tx`` the
same way (a falling edge, then a Timer to each mid-bit).  Every good byte
must come back on ``tx`` in order, no bad one may, and ``framing_errors``
must count exactly the bad frames (the break counting once).

Environment (set by the runner): SAL_SEED (1), SAL_BYTES (200 good bytes).
"""

import logging
import os
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer, with_timeout

CLK_PS = 20834               # 48 MHz (47.998), in whole picoseconds
BIT_PS = 1e12 / 3e6          # 333333.3 ps a bit at 3 Mbaud
DIVISOR = 16

log = logging.getLogger("cocotb.uart")
log.setLevel(logging.INFO)


def frame_bits(byte, stop=1):
    """Line levels of one 8N1 frame: start, data LSB first, stop."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [stop]


class TB:
    """Clock, reset, the rx line driver and the tx line monitor of the loopback top."""

    def __init__(self, dut, bit_ps=BIT_PS, clk_ps=CLK_PS, divisor=DIVISOR):
        self.dut = dut
        self.bit_ps = bit_ps     # the driver's bit time; the monitor uses the DUT's
        self.clk_ps = clk_ps     # the DUT's clock period and UART divisor
        self.divisor = divisor
        self.received = deque()
        self.monitor_errors = []
        self._t = 0.0            # the driver's schedule, ps since its start (no rounding drift)
        self._ps = 0             # where the driver is, in whole ps

    async def start(self):
        dut = self.dut
        dut.rx.value = 1
        dut.rst.value = 1
        Clock(dut.clk, self.clk_ps, unit="ps").start()
        await ClockCycles(dut.clk, 5)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 5)
        cocotb.start_soon(self._monitor())

    # -- the rx line -----------------------------------------------------------------
    async def _hold(self, level, ps):
        """Drive ``level`` for ``ps`` (fractional: kept on the exact schedule)."""
        self.dut.rx.value = level
        self._t += ps
        step = round(self._t) - self._ps
        self._ps += step
        if step > 0:
            await Timer(step, unit="ps")

    async def send_frame(self, bits):
        for level in bits:
            await self._hold(level, self.bit_ps)

    async def idle(self, bits):
        if bits > 0:
            await self._hold(1, bits * self.bit_ps)

    async def low(self, bits):
        await self._hold(0, bits * self.bit_ps)

    # -- the tx line -----------------------------------------------------------------
    async def _monitor(self):
        """Decode tx: at each falling edge, sample mid-start, the 8 data bits and mid-stop."""
        tx = self.dut.tx
        bit = self.divisor * self.clk_ps
        while True:
            await FallingEdge(tx)
            await Timer(bit // 2, unit="ps")
            if int(tx.value) != 0:
                self.monitor_errors.append("tx: start bit not low at mid-bit")
                continue
            byte = 0
            for i in range(8):
                await Timer(bit, unit="ps")
                byte |= int(tx.value) << i
            await Timer(bit, unit="ps")
            if int(tx.value) != 1:
                self.monitor_errors.append(f"tx: stop bit low after byte {byte:#04x}")
            self.received.append(byte)
            self.byte_received(byte)

    def byte_received(self, byte):
        """Called after each byte the monitor decodes (a hook for subclasses)."""

    def counter(self, name):
        return getattr(self.dut, name).value.to_unsigned()


@cocotb.test()
@cocotb.parametrize(offset_pct=[0, 2, -2])
async def loopback(dut, offset_pct):
    """Random good bytes and injected framing errors at 3 Mbaud * (1 + offset_pct / 100)."""
    offset = offset_pct / 100
    seed = int(os.environ.get("SAL_SEED", "1")) * 100 + offset_pct
    n_good = int(os.environ.get("SAL_BYTES", "200"))
    rng = random.Random(seed)
    tb = TB(dut, bit_ps=BIT_PS / (1 + offset))
    await tb.start()
    await tb.idle(rng.random() * 3)   # a random phase against the clock

    expected, bad, breaks = [], 0, 0
    break_at = rng.randrange(n_good // 4, 3 * n_good // 4)
    for i in range(n_good):
        if i == break_at:   # a break: the line low for 5 frame times
            await tb.low(50 + rng.random())
            await tb.idle(1 + rng.random())
            breaks += 1
        if rng.random() < 0.1:   # a bad frame: stop bit low, then the line back high
            await tb.send_frame(frame_bits(rng.randrange(256), stop=0))
            await tb.idle(rng.choice([1, 1.5, 3]))
            bad += 1
        byte = rng.randrange(256)
        await tb.send_frame(frame_bits(byte))
        expected.append(byte)
        await tb.idle(rng.choice([0, 0, 0, 0.3, 1, 2.7]))

    # the last byte's echo: the FIFO's backlog at one frame time each, then one frame
    backlog = max(0, len(expected) - len(tb.received))
    await with_timeout(_until(tb, len(expected)), (backlog + 3) * 10 * tb.bit_ps * 1.1,
                       timeout_unit="ps", round_mode="round")
    await tb.idle(30)   # nothing more may come
    got = list(tb.received)
    assert not tb.monitor_errors, tb.monitor_errors[:5]
    first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
    assert got == expected, (f"echo differs: {len(got)} bytes back, {len(expected)} sent; "
                             f"first difference at byte {first}")
    framing, overruns = tb.counter("framing_errors"), tb.counter("overruns")
    assert framing == bad + breaks, f"framing_errors {framing}, {bad} bad frames + {breaks} break"
    assert overruns == 0, f"overruns {overruns}"
    log.info("offset %+.1f %%: %d bytes echoed, %d bad frames and %d break dropped and counted",
             offset * 100, len(got), bad, breaks)


async def _until(tb, n):
    while len(tb.received) < n:
        await Timer(round(tb.bit_ps), unit="ps")
