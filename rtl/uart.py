"""UART PHY of the boards' host link: 8N1, baud rate fixed at build time.

A frame on the wire is one start bit (low), eight data bits LSB first and
one stop bit (high); the line idles high.  Every bit lasts ``divisor``
cycles of the ``sync`` clock, ``divisor = round(clk_freq / baud)``: at the
target 3 Mbaud from a 48 MHz clock, 16 cycles (333.3 ns) a bit, 160 cycles a
byte, 300 kB/s.

* :class:`UARTTx` serializes bytes from a stream, back to back with no idle
  time between frames while bytes keep coming.
* :class:`UARTRx` synchronizes the pin, finds the start bit's falling edge,
  samples every bit at mid-bit and hands good bytes to a stream; it drops
  and counts bytes with a low stop bit (framing errors, breaks) and bytes
  the consumer had no room for (overruns).
* :class:`UART` checks ``clk_freq`` and ``baud`` and combines both.

The receiver samples bit j (0 the start bit, 9 the stop bit) between
``h + j * divisor`` and ``h + j * divisor + 1`` cycles after the start
edge, ``h = (divisor - 1) // 2``.  Every sample stays inside its bit while
the sender's bits are at most ``h / 9`` cycles longer or
``(divisor - h - 1) / 10`` cycles shorter than ``divisor``: a sender up to
4.6 % slower or 5.3 % faster at divisor 16 (2.7 % slower, 5.3 % faster at
divisor 4).  :class:`UART` refuses a rounding error of its own above 2 %,
leaving the rest for the host's clock.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import cdc, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UARTTx", "UARTRx", "UART", "MIN_DIVISOR", "MAX_BAUD_ERROR", "uart_divisor"]

#: The fewest clock cycles per bit the receiver works with.
MIN_DIVISOR = 4
#: The largest relative difference between the baud rate asked for and the
#: one the divisor gives that :class:`UART` accepts.
MAX_BAUD_ERROR = 0.02


def _check_divisor(divisor):
    if isinstance(divisor, bool) or not isinstance(divisor, int):
        raise TypeError(f"UART divisor must be an integer number of clock cycles per bit, "
                        f"not {divisor!r}")
    if divisor < MIN_DIVISOR:
        raise ValueError(f"UART divisor must be at least {MIN_DIVISOR} clock cycles per bit, "
                         f"not {divisor}")
    return divisor


def _si(value, unit):
    """``value`` with an SI prefix: 48 MHz, 115.2 kbaud, 2.82353 Mbaud."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:g} {prefix}{unit}"
    return f"{value:g} {unit}"


def uart_divisor(clk_freq, baud):
    """``(divisor, error)`` for ``clk_freq`` Hz and ``baud`` bit/s, checked.

    ``divisor = round(clk_freq / baud)`` clock cycles per bit; ``error`` is
    the relative error of the baud rate that gives,
    ``clk_freq / divisor / baud - 1``.  Raises :class:`ValueError` when the
    divisor is below :data:`MIN_DIVISOR` or ``|error|`` exceeds
    :data:`MAX_BAUD_ERROR`, saying what was asked and what would be valid.
    """
    for name, value in (("clk_freq", clk_freq), ("baud", baud)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"UART {name} must be a positive number (Hz), not {value!r}")
    divisor = round(clk_freq / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(
            f"UART at {_si(baud, 'baud')} from a {_si(clk_freq, 'Hz')} clock: divisor "
            f"round(clk_freq / baud) = {divisor} clock cycles per bit, needs at least "
            f"{MIN_DIVISOR} (at most {_si(clk_freq / MIN_DIVISOR, 'baud')} from this clock)")
    error = clk_freq / divisor / baud - 1
    if abs(error) > MAX_BAUD_ERROR:
        raise ValueError(
            f"UART at {_si(baud, 'baud')} from a {_si(clk_freq, 'Hz')} clock: divisor "
            f"{divisor} gives {_si(clk_freq / divisor, 'baud')}, {error:+.2%} off; at most "
            f"{MAX_BAUD_ERROR:.0%} is accepted (pick a clock that is closer to a multiple "
            f"of the baud rate)")
    return divisor, error


class UARTTx(wiring.Component):
    """UART transmitter, 8N1, ``divisor`` clock cycles a bit.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4.

    Attributes
    ----------
    data : In(stream.Signature(8))
        Bytes to send.  ``ready`` is high while the transmitter is idle and
        in the last cycle of a stop bit, so bytes offered in time go out
        back to back.
    tx : Out(1), init 1
        The serial line, driven from a flip-flop; idles high (also in reset).

    Notes
    -----
    Timing, with the byte accepted (``valid & ready``) at rising edge 0:
    ``tx`` is low (start bit) from edge 0 to edge ``divisor``, carries data
    bit k from edge ``(k + 1) * divisor`` (LSB first), and is high (stop bit)
    from edge ``9 * divisor``.  ``ready`` is high in the cycle before edge
    ``10 * divisor``, so the next byte's start bit begins right at the end
    of the stop bit: a frame every ``10 * divisor`` cycles.
    """

    def __init__(self, divisor):
        self._divisor = _check_divisor(divisor)
        super().__init__({
            "data": In(stream.Signature(8)),
            "tx":   Out(1, init=1),
        })

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        d = self._divisor
        busy = Signal()
        timer = Signal(range(d))       # cycles left in the current bit, minus one
        shreg = Signal(9)              # data bits still to go, then the stop bit
        left = Signal(range(10))       # bits still to shift out after the current one
        last = Signal()                # the final cycle of the stop bit
        m.d.comb += [
            last.eq((timer == 0) & (left == 0)),
            self.data.ready.eq(~busy | last),
        ]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [
                busy.eq(1),
                self.tx.eq(0),                                  # start bit
                shreg.eq(Cat(self.data.payload, Const(1, 1))),  # d0..d7, stop
                left.eq(9),
                timer.eq(d - 1),
            ]
        with m.Elif(busy):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Elif(left != 0):
                m.d.sync += [
                    self.tx.eq(shreg[0]),
                    shreg.eq(shreg >> 1),
                    left.eq(left - 1),
                    timer.eq(d - 1),
                ]
            with m.Else():                 # end of the stop bit, no byte waiting
                m.d.sync += busy.eq(0)
        return m


class UARTRx(wiring.Component):
    """UART receiver, 8N1, ``divisor`` clock cycles a bit.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4.

    Attributes
    ----------
    rx : In(1), init 1
        The serial line (asynchronous; synchronized by two flip-flops here).
    data : Out(stream.Signature(8))
        Received bytes.  The byte sits in an output register: ``valid`` stays
        high (and ``payload`` unchanged) until ``ready``, and never depends
        on ``ready``.
    framing_errors : Out(16)
        Frames whose stop bit was sampled low, saturating at 0xFFFF.  Their
        bytes are dropped.
    overruns : Out(16)
        Bytes dropped because the previous byte was still waiting in the
        output register (``valid`` high, ``ready`` low) when they completed,
        saturating at 0xFFFF.  The older byte stays; the consumer has a
        whole frame time (about ``10 * divisor`` cycles) to take a byte.

    Notes
    -----
    Timing, in cycles of the synchronized line (the two synchronizer
    flip-flops delay everything by a constant 2 cycles, and the start edge
    is found to within one cycle):

    * **idle**: waits for the line to go from high to low (edge at cycle 0).
    * **start**: at cycle ``h = (divisor - 1) // 2`` (mid-bit) the line must
      still be low, or it was a glitch and the receiver goes back to idle.
    * **data**: bit k (LSB first) is sampled at cycle ``h + (k + 1) * divisor``.
    * **stop**: at cycle ``h + 9 * divisor`` a high line completes the byte:
      it goes to the output register (``valid`` from the next cycle), or is
      counted in ``overruns`` if that is still full.  A low line is a
      framing error: the byte is dropped, ``framing_errors`` counts it, and
      the receiver waits for the line to be high again before it looks for
      a start bit, so a break (the line held low for many frame times)
      counts once.

    The receiver is back in idle half a bit before the sender's stop bit
    ends, so frames may follow each other with no idle time between them.
    """

    def __init__(self, divisor):
        self._divisor = _check_divisor(divisor)
        super().__init__({
            "rx":             In(1, init=1),
            "data":           Out(stream.Signature(8)),
            "framing_errors": Out(16),
            "overruns":       Out(16),
        })

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        d = self._divisor
        half = (d - 1) // 2           # start edge to mid-bit (>= 1)

        line = Signal(init=1)          # the synchronized pin
        prev = Signal(init=1)          # line one cycle earlier
        m.submodules.sync = cdc.FFSynchronizer(self.rx, line, init=1, stages=2)
        m.d.sync += prev.eq(line)

        timer = Signal(range(d))       # cycles to the next sample, minus one
        shreg = Signal(8)              # data bits, shifted in from the top (LSB first)
        bit = Signal(range(8))         # data bit being received
        sample = timer == 0

        # the output register
        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)

        def count(counter):
            with m.If(counter != 0xFFFF):
                m.d.sync += counter.eq(counter + 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(prev & ~line):
                    m.d.sync += timer.eq(half - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    m.d.sync += [timer.eq(d - 1), bit.eq(0)]
                    with m.If(line):
                        m.next = "IDLE"            # a glitch, not a start bit
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    m.d.sync += [
                        timer.eq(d - 1),
                        shreg.eq(Cat(shreg[1:], line)),
                        bit.eq(bit + 1),
                    ]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(sample):
                    with m.If(~line):
                        count(self.framing_errors)
                        m.next = "BREAK"
                    with m.Else():
                        with m.If(self.data.valid & ~self.data.ready):
                            count(self.overruns)
                        with m.Else():
                            m.d.sync += [
                                self.data.valid.eq(1),
                                self.data.payload.eq(shreg),
                            ]
                        m.next = "IDLE"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UART(wiring.Component):
    """8N1 UART at ``baud`` bit/s from a ``clk_freq`` Hz ``sync`` clock.

    Parameters
    ----------
    clk_freq : float
        Frequency of the ``sync`` clock, in Hz.
    baud : float
        Bit rate, in bit/s.  ``divisor = round(clk_freq / baud)`` must be at
        least 4, and the baud rate it gives within 2 % of ``baud``; otherwise
        :class:`ValueError` says by how much it is off.

    Attributes
    ----------
    tx_data : In(stream.Signature(8))
        Bytes to send (:class:`UARTTx`'s ``data``).
    rx_data : Out(stream.Signature(8))
        Bytes received (:class:`UARTRx`'s ``data``).
    tx : Out(1), init 1
        Serial output pin, idle high.
    rx : In(1), init 1
        Serial input pin.
    framing_errors, overruns : Out(16)
        The receiver's saturating counters (see :class:`UARTRx`).
    divisor : int
        Clock cycles per bit.
    baud_error : float
        Relative error of the actual baud rate, ``clk_freq / divisor / baud - 1``.
    """

    def __init__(self, clk_freq, baud):
        self._divisor, self._baud_error = uart_divisor(clk_freq, baud)
        self._clk_freq = clk_freq
        self._baud = baud
        super().__init__({
            "tx_data":        In(stream.Signature(8)),
            "rx_data":        Out(stream.Signature(8)),
            "tx":             Out(1, init=1),
            "rx":             In(1, init=1),
            "framing_errors": Out(16),
            "overruns":       Out(16),
        })

    @property
    def clk_freq(self):
        return self._clk_freq

    @property
    def baud(self):
        return self._baud

    @property
    def divisor(self):
        return self._divisor

    @property
    def baud_error(self):
        return self._baud_error

    @property
    def actual_baud(self):
        """The baud rate the divisor gives, ``clk_freq / divisor``."""
        return self._clk_freq / self._divisor

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = tx = UARTTx(self._divisor)
        m.submodules.rx = rx = UARTRx(self._divisor)
        wiring.connect(m, wiring.flipped(self.tx_data), tx.data)
        wiring.connect(m, rx.data, wiring.flipped(self.rx_data))
        m.d.comb += [
            self.tx.eq(tx.tx),
            rx.rx.eq(self.rx),
            self.framing_errors.eq(rx.framing_errors),
            self.overruns.eq(rx.overruns),
        ]
        return m
