"""A register slice: a stream passed through registers in both directions, at full rate.

On a large part the blocks of the chip sit far apart (the 4-core ULX3S
build spreads over the die), and a handshake that crosses the die with
logic on both ends does not fit in a 10 ns cycle: 13 ns of the 15 ns
critical paths were routing.  A slice on each end of such a stream leaves
only a register-to-register wire plus one LUT level for the crossing,
because everything a slice drives comes from its own flip-flops:
``r.valid`` and ``r.payload`` are registers, and so is ``w.ready``.

It is the classic two-entry skid buffer: ``main`` holds the entry on
``r``, ``skid`` catches the one accepted in the cycle ``r`` was refused
(``w.ready`` was already high then, being a register), and ``w.ready`` is
low while ``skid`` is full.  An entry accepted in cycle t is on ``r`` in
t + 1; with ``r.ready`` always high one entry passes per cycle.  ``main``
fills before ``skid`` and ``skid`` drains into ``main`` first, so the
slice is empty exactly when ``r.valid`` is low: the chip's step barrier
counts what its slices hold from ``r.valid`` alone.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamSlice"]


class StreamSlice(wiring.Component):
    """Two registered entries between two streams of ``shape``, in order.

    Parameters
    ----------
    shape : ShapeLike
        Payload shape of both streams.
    registered : bool
        False: no registers, ``w`` is wired straight to ``r`` (for small parts, whose
        blocks sit close together and where every flip-flop costs a logic cell).

    Attributes
    ----------
    w : In(stream.Signature(shape))
        Entries in; ``w.ready`` is a register (low while both entries are full).
    r : Out(stream.Signature(shape))
        Entries out, oldest first; ``r.valid`` and ``r.payload`` are registers.
    """

    def __init__(self, shape, registered=True):
        self._shape = shape
        self._registered = registered
        super().__init__({
            "w": In(stream.Signature(shape)),
            "r": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        if not self._registered:
            m.d.comb += [self.r.valid.eq(self.w.valid), self.r.payload.eq(self.w.payload),
                         self.w.ready.eq(self.r.ready)]
            return m
        main, main_valid = self.r.payload, self.r.valid
        skid = Signal(self._shape, name="skid")
        skid_valid = Signal()
        m.d.comb += self.w.ready.eq(~skid_valid)
        with m.If(self.r.ready | ~main_valid):
            # ``main`` is free this cycle: the older entry (skid) moves in first.
            with m.If(skid_valid):
                m.d.sync += [main.eq(skid), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [main.eq(self.w.payload), main_valid.eq(self.w.valid)]
        with m.Elif(self.w.valid & ~skid_valid):
            m.d.sync += [skid.eq(self.w.payload), skid_valid.eq(1)]
        return m
