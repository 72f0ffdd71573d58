"""COBS framing of the host link (docs/protocol.md): both sides.

A frame on the wire is its COBS encoding (no 0x00 inside) followed by one
0x00.  The decoder turns wire bytes into decoded bytes and, at each 0x00,
an end marker that says whether the frame was well formed.  A code byte
c announces c - 1 data bytes and, unless c is 0xFF or it is the frame's
last block, a zero after them; the zero is emitted when the next code
byte arrives, so every wire byte yields at most one output and the
decoder streams at one byte per cycle.

The transmit side (:class:`COBSWriter`) encodes a frame as it is written
into a buffer, so the buffer holds wire bytes and sending it is a plain
read; a stored frame can be sent again as it is.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["COBSDecoder", "COBSWriter", "DecodedLayout"]

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


class COBSWriter(wiring.Component):
    """Encodes while a frame is written: bytes in, their COBS encoding into a buffer.

    The frame's bytes arrive one per cycle at most (``valid``, ``data``) and
    go, a cycle later (through a register, for timing), to the buffer's
    write port (``wr_*``) already encoded, from ``base`` on, so sending a
    frame is reading ``base`` .. ``end - 1`` and one 0x00.
    A block's code byte is written into the place kept for it (``code_at``)
    when the block closes: at a zero of the data (the zero's own cycle), after
    254 non-zero bytes, or at ``close``.  A block closed by its 254th byte
    needs a second write in that byte's cycle; its code (0xFF) waits in
    ``pending`` for the next cycle without a byte, so ``valid`` must be low
    at least once in every 254 cycles.  The bytes equal
    ``golden/protocol.py: cobs_encode(data)``, with its trailing ``01`` after
    a final 254-byte run.

    Parameters
    ----------
    depth : int
        The buffer's depth (addresses ``0 .. depth - 1``).

    Attributes
    ----------
    begin : In(1)
        Start a frame at ``base``, in a cycle without ``pending``.
    base : In(range(depth))
    valid, data : In(1), In(8)
        A byte of the frame.
    close : In(1)
        The frame ends: write the last block's code.  Takes effect in a cycle
        without ``pending``; hold it until then.
    pending : Out(1)
        A byte or a 0xFF code still to be written.
    end : Out(range(depth))
        One past the last byte written (once closed: the encoded length from ``base``).
    wr_addr, wr_data, wr_en : Out
        The buffer's write port.
    """

    def __init__(self, depth):
        self._depth = depth
        super().__init__({
            "begin": In(1),
            "base": In(range(depth)),
            "valid": In(1),
            "data": In(8),
            "close": In(1),
            "pending": Out(1),
            "end": Out(range(depth)),
            "wr_addr": Out(range(depth)),
            "wr_data": Out(8),
            "wr_en": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        code_at = Signal(range(self._depth))   # the current block's code byte
        run = Signal(range(254))                # its data bytes so far
        pending_ff = Signal()                  # a full block's code still to be written
        pending_at = Signal(range(self._depth))
        wptr = self.end
        valid, data = Signal(), Signal(8)      # the byte of the cycle before
        m.d.sync += [valid.eq(self.valid), data.eq(self.data)]
        m.d.comb += self.pending.eq(valid | pending_ff)

        def write(addr, value):
            m.d.comb += [self.wr_addr.eq(addr), self.wr_data.eq(value), self.wr_en.eq(1)]

        with m.If(self.begin):
            m.d.sync += [code_at.eq(self.base), wptr.eq(self.base + 1), run.eq(0)]
        with m.Elif(valid & (data == 0)):   # the zero's place holds the next code
            write(code_at, run + 1)
            m.d.sync += [code_at.eq(wptr), wptr.eq(wptr + 1), run.eq(0)]
        with m.Elif(valid):
            write(wptr, data)
            with m.If(run == 253):
                m.d.sync += [pending_ff.eq(1), pending_at.eq(code_at), code_at.eq(wptr + 1),
                             wptr.eq(wptr + 2), run.eq(0)]
            with m.Else():
                m.d.sync += [wptr.eq(wptr + 1), run.eq(run + 1)]
        with m.Elif(pending_ff):
            write(pending_at, 0xFF)
            m.d.sync += pending_ff.eq(0)
        with m.Elif(self.close):
            write(code_at, run + 1)
        return m
