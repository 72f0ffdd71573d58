"""The chip's inject queue: external axon events that the host queued for given chip steps.

INJECT (docs/protocol.md section 5) queues events ``(step, core, axon)``;
in the chip step that starts with the step counter at ``t`` (section 7,
stage 3) every queued event whose ``step`` is ``t`` is delivered to its
(core, axon) and leaves the queue, while the others stay, in arrival order
(golden/chip.py: ``FixedChip.inject`` and ``step``).

Storage is one :class:`~amaranth.lib.memory.Memory` of ``depth`` words of
:func:`inject_event_layout` (block RAM: one write port, one synchronous read
port).  The events sit in slots 0 .. pending-1 in arrival order; a push
writes slot ``pending``.  A delivery scan for step ``S`` reads slot
i = 0 .. pending-1 in order: an event with ``step == S`` is offered on
``out`` (and waits there until ``out.ready``, never dropped); any other
event is written back to slot j, where j counts the events kept so far
(j <= i).  The queue so compacts in place, keeps arrival order, and ends with
``pending = j``.

The scan is a four-stage pipeline that moves as one (a held delivery
holds all of it): the read of slot i is issued, its word arrives from the
block RAM, it lands in the register ``head`` and its step is compared
with the scan's, and with the verdict registered it moves on to ``cur``,
where it is delivered or written back.  Why so many: the block RAM's
output goes into ``head`` with no logic in between, because its
clock-to-out (5.8 ns on the ECP5) leaves no room for anything after it;
and the 32-bit comparison is registered because a held delivery stops the
whole pipeline, read port included, so the stall must come from
registers.  The write-back of slot i (to j <= i) happens in the cycle that
reads slot i + 3, and later reads only reach higher slots, so a scan never
reads a slot it has already overwritten.  Why a scan and not a FIFO
per step: events for any future step may arrive in any order, and the chip
only needs the events of one step per chip step, so a linear pass per step
(``pending`` cycles) is cheap next to the step itself and needs no sorting
and no per-step bookkeeping.

Timing (cycle t = the cycle whose closing clock edge samples the inputs):

- **push**: ``push.ready = (pending != depth) & ~busy``, from registers
  only.  An event accepted in cycle t is counted in ``pending`` from t + 1.
- **start**: a ``start`` pulse in cycle t with ``busy`` low begins a scan
  for step ``step`` (sampled in t).  The scan covers every event accepted
  up to and including cycle t (an event pushed in the start cycle itself
  takes part; the read port is transparent to the write port for that
  case).  A ``start`` while ``busy`` is high is ignored: the running scan
  goes on unchanged and no second scan follows.
- **busy** is high from t + 1 to the last cycle of the scan and low
  otherwise.  The scan runs at **one slot per cycle** after three cycles
  of pipeline fill: slot 0 is read in the start cycle, and slot i is in
  ``cur`` (kept or offered on ``out``) in busy cycle i + 3.  A matching
  event that meets ``out.ready`` low holds the scan for that cycle.  With
  P >= 1 events in the queue and ``out.ready`` always high, ``busy`` is
  high for exactly P + 2 cycles (one cycle for an empty queue); every
  cycle with ``out.valid & ~out.ready`` adds one.
- **out**: ``out.valid`` is high only while ``busy``, from registers only
  (never from ``out.ready``); deliveries come in arrival order.
- **pending** keeps the count of the scan's start until the scan ends and
  holds the count of the kept events from the first cycle with ``busy`` low
  after it.  ``injected`` counts handshakes on ``out`` (it grows in the
  cycle after each one) and saturates at ``2**count_bits - 1``.

Verification: tests/test_rtl_inject.py (amaranth.sim against a Python
reference queue with random pushes, scans and ``out`` backpressure).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["inject_event_layout", "delivery_layout", "InjectQueue"]

#: the largest queue: the number of pending events travels as a u16
MAX_DEPTH = (1 << 16) - 1


def _bits(n):
    """Bits of an index into ``n`` things (at least 1)."""
    return max((n - 1).bit_length(), 1)


def inject_event_layout(cores, axons):
    """A queued event: absolute chip ``step`` (32 bits), ``core``, ``axon`` (LSB first)."""
    return data.StructLayout({"step": 32, "core": _bits(cores), "axon": _bits(axons)})


def delivery_layout(cores, axons):
    """A delivery on ``out``: ``core`` and ``axon`` (LSB first)."""
    return data.StructLayout({"core": _bits(cores), "axon": _bits(axons)})


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")


class InjectQueue(wiring.Component):
    """Queue of ``depth`` injected events, delivered by a scan per chip step.

    Parameters
    ----------
    cores : int
        K, 1 to 255: the ``core`` field is ``max(ceil(log2 K), 1)`` bits.
    axons : int
        A, 1 to 2**16: the ``axon`` field is ``max(ceil(log2 A), 1)`` bits.
    depth : int
        Capacity in events, 1 to 65535 (inject_depth of docs/protocol.md).
    count_bits : int
        Width of ``injected`` (32 on the chip; smaller in tests of its
        saturation).

    The queue stores ``core`` and ``axon`` as given; the host interface
    keeps ``core < K`` and ``axon < A`` (INJECT's checks).

    Attributes
    ----------
    push : In(stream.Signature(inject_event_layout(K, A)))
        Events in; ``ready`` is high exactly when the queue is not full and
        no scan is running (registers only; the host interface checks room
        before it pushes, so it never waits on a full queue).
    pending : Out(range(depth + 1))
        Events queued (registered; updated at the end of a scan).
    injected : Out(count_bits)
        Deliveries (handshakes on ``out``) since reset, saturating at
        ``2**count_bits - 1``.
    step : In(32)
        The chip step of the scan, sampled in the ``start`` cycle.
    start : In(1)
        One-cycle pulse: begin a scan (ignored while ``busy``).
    out : Out(stream.Signature(delivery_layout(K, A)))
        Deliveries (core, axon) of the scan, in arrival order; the consumer
        may hold ``ready`` low for any time.
    busy : Out(1)
        A scan is running: high from the cycle after an accepted ``start``
        through the scan's last cycle (at least one cycle).
    """

    def __init__(self, cores, axons, depth, *, count_bits=32):
        _check_int("cores", cores, 1, 255)
        _check_int("axons", axons, 1, 1 << 16)
        _check_int("depth", depth, 1, MAX_DEPTH)
        _check_int("count_bits", count_bits, 1, 64)
        self._K, self._A, self._depth = cores, axons, depth
        self._event = inject_event_layout(cores, axons)
        self._delivery = delivery_layout(cores, axons)
        super().__init__({
            "push": In(stream.Signature(self._event)),
            "pending": Out(range(depth + 1)),
            "injected": Out(count_bits),
            "step": In(32),
            "start": In(1),
            "out": Out(stream.Signature(self._delivery)),
            "busy": Out(1),
        })

    @property
    def cores(self):
        return self._K

    @property
    def axons(self):
        return self._A

    @property
    def depth(self):
        return self._depth

    @property
    def event_layout(self):
        return self._event

    def elaborate(self, platform):
        m = Module()
        D = self._depth
        m.submodules.storage = mem = Memory(shape=self._event, depth=D, init=[])
        wp = mem.write_port()
        # Transparent only for a push into slot 0 in the start cycle of a scan of an
        # empty queue; during a scan the write slot is always below the read slot.
        rp = mem.read_port(transparent_for=(wp,))

        pending = self.pending
        target = Signal(32)              # the scan's step
        rd = Signal(range(D + 1))        # next slot to read
        kept = Signal(range(D + 1))      # events kept so far = next write-back slot
        kept_1 = Signal(range(D + 2))    # kept + 1, kept ready so that the verdict on
                                         # ``head`` only selects (no carry chain after it)
        data_valid = Signal()            # rp.data holds the event of a slot to handle
        head = Signal(self._event)       # ... registered, its step compared
        head_valid = Signal()
        cur = Signal(self._event)        # the event being handled
        cur_valid, cur_match = Signal(), Signal()

        match = Signal()
        stall = Signal()
        keep = Signal()
        more = Signal()
        m.d.comb += [
            match.eq(cur_valid & cur_match),
            stall.eq(match & ~self.out.ready),
            keep.eq(cur_valid & ~cur_match),
            more.eq(rd < pending),
            self.out.valid.eq(match),
            self.out.payload.core.eq(cur.core),
            self.out.payload.axon.eq(cur.axon),
        ]

        accept = Signal()
        m.d.comb += [
            self.push.ready.eq((pending != D) & ~self.busy),
            accept.eq(self.push.valid & self.push.ready),
        ]

        with m.If(~self.busy):
            # Idle: pushes write slot ``pending``; slot 0 is read ahead for a scan.
            m.d.comb += [
                wp.addr.eq(pending),
                wp.data.eq(self.push.payload),
                wp.en.eq(accept),
                rp.addr.eq(0),
                rp.en.eq(1),
            ]
            m.d.sync += pending.eq(pending + accept)
            with m.If(self.start):
                m.d.sync += [
                    self.busy.eq(1),
                    target.eq(self.step),
                    rd.eq(1),
                    kept.eq(0),
                    kept_1.eq(1),
                    data_valid.eq((pending != 0) | accept),
                    head_valid.eq(0),
                    cur_valid.eq(0),
                ]
        with m.Else():
            # Scan: handle ``cur``, move the pipeline on and read the next slot, unless
            # ``out`` holds us.
            m.d.comb += [
                wp.addr.eq(kept),
                wp.data.eq(cur),
                wp.en.eq(keep),
                rp.addr.eq(rd),
                rp.en.eq(~stall),
            ]
            with m.If(keep):
                m.d.sync += [kept.eq(kept_1), kept_1.eq(kept_1 + 1)]
            with m.If(~stall):
                m.d.sync += [cur.eq(head), cur_valid.eq(head_valid),
                             cur_match.eq(head.step == target),
                             head.eq(rp.data), head_valid.eq(data_valid),
                             data_valid.eq(more)]
                with m.If(more):
                    m.d.sync += rd.eq(rd + 1)
                with m.If(~more & ~data_valid & ~head_valid):   # ``cur`` is the last, if any
                    m.d.sync += [
                        self.busy.eq(0),
                        pending.eq(Mux(keep, kept_1, kept)),
                    ]

        total = Signal(len(self.injected) + 1)
        top = (1 << len(self.injected)) - 1
        m.d.comb += total.eq(self.injected + (self.out.valid & self.out.ready))
        m.d.sync += self.injected.eq(Mux(total > top, top, total))
        return m
