"""COBS framing of the host link (docs/protocol.md): both sides.

A frame on the wire is its COBS encoding (no 0x00 inside) followed by one
0x00.  The decoder turns wire bytes into decoded bytes and, at each 0x00,
an end marker that says whether the frame was well formed.  A code byte
c announces c - 1 data bytes and, unless c is 0xFF or it is the frame's
last block, a zero after them; the zero is emitted when the next code
byte arrives, so every wire byte yields at most one output and the
decoder streams at one byte per cycle.

The encoder (:class:`COBSEncoder`) sends a frame that sits in a block RAM
outside it, read through the owner's synchronous read port and one
register (two cycles from address to byte); it reads every block twice
(count, then send) and sends about one byte every two cycles.
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
    synchronous read port **followed by one register**: it drives ``addr``
    (itself a register), and ``data`` must be the byte at the address
    driven two cycles before (``Memory.read_port()``, transparent or not,
    ``en`` always 1, its ``addr`` from ``addr``, its ``data`` registered
    once).  The register is there for timing: a block RAM's output is slow
    (5.8 ns clock-to-out on the ECP5), so it goes straight into a flip-flop
    and the encoder's decisions start from there.  The buffer must not
    change while ``busy``.

    The wire bytes equal ``golden/protocol.py: cobs_encode(data) + b"\\x00"``
    (docs/protocol.md, section 1.1), including the trailing ``01`` after a
    final 254-byte run.  Every block is read twice: a scan counts its
    non-zero bytes (up to 254, stopping at a zero of the data or at the
    end), then the code byte goes out and the block is read again for its
    data bytes.

    **The read stream.**  ``addr`` counts up by one every cycle, so a byte
    arrives on ``data`` every cycle; the encoder takes each arriving byte in
    order, and to read from elsewhere (the block again, after its scan) or
    to read a byte again (one the output could not take) it *jumps*: the
    bytes already on their way are then dropped and the new address's byte
    arrives three cycles after the jump.  A zero that ends a block is
    simply skipped in the stream, and a zero right at a block's start is
    sent as code ``01`` without leaving the scan, so only the re-read of a
    block and a stall of the output cost a jump.

    Timing, with ``o.ready`` always high: a block of c >= 1 data bytes
    takes 2c + 3 cycles for its c + 1 wire bytes (c + 1 scan cycles, one
    for the code byte, one for the jump back, c for the data bytes), one
    more when it ends at a zero (the zero is skipped in the stream), and an
    empty block before a zero one cycle; the start adds two cycles (the
    first jump) and the delimiter about two more.  Measured: 1000 non-zero
    bytes, 1005 wire bytes in 2016 cycles (0.50 a cycle); 1000 bytes with
    30 % zeros, 1002 wire bytes in 2321 cycles (0.43 a cycle; 0.50 before
    the read register).  A host link of about 100 cycles a byte never waits
    for it.

    ``o`` comes from registers, and so does ``addr``; ``o.ready`` reaches
    the registers only (a byte the output cannot take is read again).

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
        Read address for the buffer's synchronous read port (a register; it
        runs up to two addresses past the byte in use, wrapping in the
        port's width: those bytes are never used).
    data : In(8)
        The byte at the ``addr`` of two cycles before.
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
        want = Signal(range(L + 1))        # the address of the next byte to take
        count = Signal(range(255))         # scan: bytes counted; data: bytes left
        final = Signal()                   # the current block ends the frame
        zero_end = Signal()                # ... ends at a zero of the data
        skip = Signal()                    # the next byte is that zero: drop it

        # -- the read stream: one address a cycle, or a jump -------------------------
        ra = Signal(range(L + 3))          # the address driven now (at most want + 2)
        jump = Signal()
        jump_to = Signal(range(L + 1))
        j1, j2 = Signal(init=1), Signal(init=1)   # a jump one / two cycles ago
        arrived = Signal()                 # data holds the stream's next byte (``want``)
        m.d.comb += [self.addr.eq(ra), arrived.eq(~j1 & ~j2)]
        m.d.sync += [ra.eq(Mux(jump, jump_to, ra + 1)), j1.eq(jump), j2.eq(j1)]

        out_data = Signal(8)
        out_valid = Signal()
        load = Signal()                    # the output register takes a byte now
        load_data = Signal(8)
        can_load = Signal()

        m.d.comb += [
            can_load.eq(~out_valid | self.o.ready),
            self.o.valid.eq(out_valid),
            self.o.payload.eq(out_data),
        ]
        with m.If(load):
            m.d.sync += [out_data.eq(load_data), out_valid.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += out_valid.eq(0)

        def jump_data():
            """The scan has stopped with count >= 1: read the block again for its data."""
            m.d.comb += [jump.eq(1), jump_to.eq(block)]
            m.d.sync += want.eq(block)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += jump.eq(1)     # (to 0: the stream stays put)
                with m.If(self.start):
                    m.d.sync += [length.eq(self.length), block.eq(0), want.eq(0),
                                 count.eq(0), skip.eq(0)]
                    m.next = "SCAN"

            with m.State("SCAN"):
                m.d.comb += self.busy.eq(1)
                # ``data`` holds byte ``want`` = block + count (when it has arrived)
                with m.If(arrived & skip):
                    m.d.sync += skip.eq(0)
                with m.Elif(arrived):
                    with m.If(count == 254):
                        m.d.sync += [next_block.eq(want), final.eq(0), zero_end.eq(0)]
                        jump_data()
                        m.next = "CODE"
                    with m.Elif(want == length):
                        m.d.sync += final.eq(1)
                        with m.If(count != 0):
                            jump_data()
                        m.next = "CODE"
                    with m.Elif(self.data == 0):
                        m.d.sync += [next_block.eq(want + 1), final.eq(0), zero_end.eq(1)]
                        with m.If(count != 0):
                            jump_data()
                            m.next = "CODE"
                        with m.Elif(can_load):   # an empty block: code 01, scan on
                            m.d.comb += [load.eq(1), load_data.eq(1)]
                            m.d.sync += [block.eq(want + 1), want.eq(want + 1)]
                        with m.Else():
                            m.d.sync += want.eq(want + 1)
                            m.next = "CODE"
                    with m.Else():
                        m.d.sync += [count.eq(count + 1), want.eq(want + 1)]

            with m.State("CODE"):
                m.d.comb += [self.busy.eq(1), load_data.eq(count + 1)]
                with m.If(arrived):        # too early for DATA or SCAN: read it again
                    m.d.comb += [jump.eq(1), jump_to.eq(want)]
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
                with m.If(arrived & can_load):
                    m.d.comb += load.eq(1)
                    m.d.sync += count.eq(count - 1)
                    with m.If(count != 1):
                        m.d.sync += want.eq(want + 1)
                    with m.Elif(final):
                        m.next = "DELIM"
                    with m.Else():         # the stream goes on into the next block
                        m.d.sync += [block.eq(next_block), want.eq(next_block),
                                     skip.eq(zero_end)]
                        m.next = "SCAN"
                with m.Elif(arrived):      # the output is full: this byte again
                    m.d.comb += [jump.eq(1), jump_to.eq(want)]

            with m.State("DELIM"):
                m.d.comb += [self.busy.eq(1), load_data.eq(0), jump.eq(1)]
                with m.If(can_load):
                    m.d.comb += load.eq(1)
                    m.next = "FLUSH"

            with m.State("FLUSH"):
                m.d.comb += [self.busy.eq(1), jump.eq(1)]
                with m.If(self.o.ready):
                    m.next = "IDLE"
        return m
