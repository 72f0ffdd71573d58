"""A synchronous stream FIFO in block RAM whose input is ready whenever it is not full.

Why not :mod:`amaranth.lib.fifo`: ``SyncFIFO`` reads its memory
asynchronously (LUT RAM, no block RAM on iCE40), and ``SyncFIFOBuffered``
keeps its head in an output register fed by a ``depth - 1`` memory, so its
``w_rdy`` is low for a cycle while that register refills even though the
queue is not full (and a depth-1 queue takes one entry every other cycle);
both take one cycle more to show an entry and are not stream interfaces.
The router needs a queue whose input is ready *exactly* when it is not full.

Timing: an entry written in cycle t (``w.valid & w.ready`` at the edge
ending t) is on ``r`` in cycle t + 1.  ``w.ready`` depends only on the
level (not on ``r.ready``); ``r.valid`` only on the level.  Storage is one
:class:`~amaranth.lib.memory.Memory` of ``depth`` words with a synchronous
read port transparent to the write port: the port always reads the entry
that will be the head in the next cycle, so a write into an empty queue
shows up the next cycle.
"""

from amaranth.hdl import Module, Mux, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["StreamFIFO"]


class StreamFIFO(wiring.Component):
    """First in, first out queue of ``depth`` entries of ``shape`` between two streams.

    Parameters
    ----------
    shape : ShapeLike
        Payload shape of both streams.
    depth : int
        Entries held (at least 1).  With depth 1 the queue takes a new entry
        only in the cycle after its entry left (``w.ready`` does not look at
        ``r.ready``).

    Attributes
    ----------
    w : In(stream.Signature(shape))
        Entries in; ``w.ready = (level != depth)``.
    r : Out(stream.Signature(shape))
        Entries out, oldest first; ``r.valid = (level != 0)``.
    level : Out(range(depth + 1))
        Entries held (registered).
    """

    def __init__(self, shape, depth):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"FIFO depth must be a positive integer, not {depth!r}")
        self._shape = shape
        self._depth = depth
        super().__init__({
            "w": In(stream.Signature(shape)),
            "r": Out(stream.Signature(shape)),
            "level": Out(range(depth + 1)),
        })

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        F = self._depth
        # (a 0-bit payload, e.g. range(1), is kept in a 1-bit memory: Yosys needs width)
        store = self._shape if Shape.cast(self._shape).width else 1
        m.submodules.storage = mem = Memory(shape=store, depth=F, init=[])
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=(wp,))

        produce = Signal(range(F))
        consume = Signal(range(F))

        def incr(ptr):
            return Mux(ptr == F - 1, 0, ptr + 1)

        push = Signal()
        pop = Signal()
        consume_next = Signal(range(F))
        m.d.comb += [
            self.w.ready.eq(self.level != F),
            self.r.valid.eq(self.level != 0),
            push.eq(self.w.valid & self.w.ready),
            pop.eq(self.r.valid & self.r.ready),
            consume_next.eq(Mux(pop, incr(consume), consume)),
            wp.addr.eq(produce),
            wp.data.eq(self.w.payload),
            wp.en.eq(push),
            # The head of the next cycle; a write to it in this cycle passes through.
            rp.addr.eq(consume_next),
            self.r.payload.eq(rp.data),
        ]
        m.d.sync += [
            consume.eq(consume_next),
            self.level.eq(self.level + push - pop),
        ]
        with m.If(push):
            m.d.sync += produce.eq(incr(produce))
        return m
