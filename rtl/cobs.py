"""COBS framing of the host link (docs/protocol.md): both sides.

A frame on the wire is its COBS encoding (no 0x00 inside) followed by one
0x00.  The decoder turns wire bytes into decoded bytes and, at each 0x00,
an end marker that says whether the frame was well formed.  A code byte
c announces c - 1 data bytes and, unless c is 0xFF or it is the frame's
last block, a zero after them; the zero is emitted when the next code
byte arrives, so every wire byte yields at most one output and the
decoder streams at one byte per cycle.

The encoder (:class:`COBSEncoder`) sends a frame that sits in a block RAM
outside it, read through the owner's synchronous read port; it reads every
block twice (count, then send) and sends about one byte every two cycles.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["COBSDecoder", "COBSEncoder", "DecodedLayout"]

#: one decoded byte, or (``end`` = 1) the end of a frame; ``error`` flags a
#: frame whose last block was cut short by the delimiter.
DecodedLayout = data.StructLayout({"data": 8, "end": 1, "error": 1})


class COBSDecoder(wiring.Component):
    """Wire bytes in (``i``), decoded bytes and end-of-frame markers out (``o``).

    An empty frame (two delimiters in a row) yields an end marker too; the
    frame layer ignores frames without bytes.
    """

    i: In(stream.Signature(8))
    o: Out(stream.Signature(DecodedLayout))

    def elaborate(self, platform):
        m = Module()
        remaining = Signal(8)    # data bytes left in the current block
        zero_due = Signal()      # the current block ends in an implicit zero
        b = self.i.payload
        is_delim = b == 0
        emits = Signal()
        m.d.comb += [
            # a delimiter always emits the end marker; a code byte emits the
            # pending zero if there is one; a data byte emits itself
            emits.eq(is_delim | (remaining != 0) | zero_due),
            self.o.valid.eq(self.i.valid & emits),
            self.i.ready.eq(self.o.ready | ~emits),
            self.o.payload.data.eq(Mux(is_delim | (remaining == 0), 0, b)),
            self.o.payload.end.eq(is_delim),
            self.o.payload.error.eq(is_delim & (remaining != 0)),
        ]
        with m.If(self.i.valid & self.i.ready):
            with m.If(is_delim):
                m.d.sync += [remaining.eq(0), zero_due.eq(0)]
            with m.Elif(remaining == 0):   # a code byte
                m.d.sync += [remaining.eq(b - 1), zero_due.eq(b != 0xFF)]
            with m.Else():
                m.d.sync += remaining.eq(remaining - 1)
        return m


class COBSEncoder(wiring.Component):
    """The transmit side: COBS of ``length`` bytes read from a buffer, then one 0x00.

    The bytes to send sit in a block RAM outside the encoder (the host
    interface's reply buffer); the encoder reads them through the owner's
    synchronous read port: it drives ``addr``, and ``data`` must be the byte
    at the address driven in the previous cycle (``Memory.read_port()``,
    transparent or not, ``en`` always 1, its ``addr`` from ``addr``).  The
    buffer must not change while ``busy``.

    The wire bytes equal ``golden/protocol.py: cobs_encode(data) + b"\\x00"``
    (docs/protocol.md, section 1.1), including the trailing ``01`` after a
    final 254-byte run.  Every block is read twice: a scan counts its
    non-zero bytes (up to 254, stopping at a zero of the data or at the
    end), then the code byte goes out and the block is read again for its
    data bytes.

    Timing, with ``o.ready`` always high: a block of c data bytes takes
    2c + 2 cycles (c + 1 scan cycles, one for the code byte, c for the data
    bytes) for its c + 1 wire bytes, whatever the mix of zeros; the start
    cycle and the delimiter add two more, so a frame of w wire bytes
    (delimiter included) takes exactly 2w cycles from the ``start`` cycle to
    the delimiter's handshake: 0.50 wire bytes a cycle.  Measured: 1000
    non-zero bytes, 1005 wire bytes in 2010 cycles; 1000 bytes with 30 %
    zeros, 1002 wire bytes in 2004 cycles.  A host link of about 100 cycles
    a byte never waits for it.  The first wire byte is on ``o`` 3 + c
    cycles after ``start`` (c: the first block's data bytes).

    ``o`` comes from registers.  ``o.ready`` reaches ``addr``
    combinationally (a data byte that cannot go into the output register
    is read again in the next cycle), and ``data`` reaches nothing but the
    encoder's registers.

    Parameters
    ----------
    max_length : int
        The longest frame, in bytes (at least 1).

    Attributes
    ----------
    start : In(1)
        A one-cycle pulse while not ``busy`` starts a frame; ignored while
        ``busy``.
    length : In(range(max_length + 1))
        Bytes to send, at addresses 0 .. length - 1; sampled with ``start``.
        0 is legal and sends ``01 00``.
    addr : Out(range(max_length))
        Read address for the buffer's synchronous read port.
    data : In(8)
        The byte at the ``addr`` of the previous cycle.
    o : Out(stream.Signature(8))
        Wire bytes: the COBS encoding, then one 0x00.
    busy : Out(1)
        High from the cycle after ``start`` until the cycle after the 0x00
        was accepted.
    """

    def __init__(self, max_length):
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"COBS encoder max_length must be a positive integer, "
                             f"not {max_length!r}")
        self._max_length = max_length
        super().__init__({
            "start": In(1),
            "length": In(range(max_length + 1)),
            "addr": Out(range(max_length)),
            "data": In(8),
            "o": Out(stream.Signature(8)),
            "busy": Out(1),
        })

    @property
    def max_length(self):
        return self._max_length

    def elaborate(self, platform):
        m = Module()
        L = self._max_length
        length = Signal(range(L + 1))      # sampled at start
        block = Signal(range(L + 1))       # first byte of the current block
        next_block = Signal(range(L + 1))  # first byte of the next one
        pos = Signal(range(L + 1))         # address whose byte is on ``data`` now
        rd = Signal(range(L + 1))          # address driven this cycle
        count = Signal(range(255))         # scan: bytes counted; data: bytes left
        final = Signal()                   # the current block ends the frame

        out_data = Signal(8)
        out_valid = Signal()
        load = Signal()                    # the output register takes a byte now
        load_data = Signal(8)
        can_load = Signal()

        m.d.comb += [
            can_load.eq(~out_valid | self.o.ready),
            self.o.valid.eq(out_valid),
            self.o.payload.eq(out_data),
            self.addr.eq(rd),              # (rd = max_length only when its byte is unused)
            rd.eq(pos),
        ]
        m.d.sync += pos.eq(rd)
        with m.If(load):
            m.d.sync += [out_data.eq(load_data), out_valid.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += out_valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += rd.eq(0)
                with m.If(self.start):
                    m.d.sync += [length.eq(self.length), block.eq(0), count.eq(0)]
                    m.next = "SCAN"

            with m.State("SCAN"):
                m.d.comb += self.busy.eq(1)
                # ``data`` holds byte ``pos`` = block + count
                m.d.comb += rd.eq(pos + 1)   # (unused if the scan stops here)
                with m.If(count == 254):
                    m.d.sync += [next_block.eq(pos), final.eq(0)]
                    m.next = "CODE"
                with m.Elif(pos == length):
                    m.d.sync += final.eq(1)
                    m.next = "CODE"
                with m.Elif(self.data == 0):
                    m.d.sync += [next_block.eq(pos + 1), final.eq(0)]
                    m.next = "CODE"
                with m.Else():
                    m.d.sync += count.eq(count + 1)

            with m.State("CODE"):
                m.d.comb += [
                    self.busy.eq(1),
                    load_data.eq(count + 1),
                    rd.eq(Mux(count == 0, next_block, block)),
                ]
                with m.If(can_load):
                    m.d.comb += load.eq(1)
                    with m.If(count != 0):
                        m.next = "DATA"
                    with m.Elif(final):
                        m.next = "DELIM"
                    with m.Else():
                        m.d.sync += block.eq(next_block)
                        m.next = "SCAN"

            with m.State("DATA"):
                m.d.comb += [self.busy.eq(1), load_data.eq(self.data)]
                with m.If(can_load):
                    m.d.comb += load.eq(1)
                    m.d.sync += count.eq(count - 1)
                    with m.If(count != 1):
                        m.d.comb += rd.eq(pos + 1)
                    with m.Elif(final):
                        m.next = "DELIM"
                    with m.Else():
                        m.d.comb += rd.eq(next_block)
                        m.d.sync += block.eq(next_block)
                        m.next = "SCAN"

            with m.State("DELIM"):
                m.d.comb += [self.busy.eq(1), load_data.eq(0)]
                with m.If(can_load):
                    m.d.comb += load.eq(1)
                    m.next = "FLUSH"

            with m.State("FLUSH"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.o.ready):
                    m.next = "IDLE"
        return m
