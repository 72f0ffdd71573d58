"""COBS framing of the host link (docs/protocol.md): the receive side.

A frame on the wire is its COBS encoding (no 0x00 inside) followed by one
0x00.  The decoder turns wire bytes into decoded bytes and, at each 0x00,
an end marker that says whether the frame was well formed.  A code byte
c announces c - 1 data bytes and, unless c is 0xFF or it is the frame's
last block, a zero after them; the zero is emitted when the next code
byte arrives, so every wire byte yields at most one output and the
decoder streams at one byte per cycle.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["COBSDecoder", "DecodedLayout"]

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
