"""Axon unit: axon spike histories, PSP flags and pre traces.

One axon per cycle (``valid``, ``a``; ``spike`` = s_a(t) one cycle later,
in stage 1) in seven stages: stage 0 reads the history (and the group of
the axon's PSP flag); stage 1 registers both; stage 2 shifts the spike in
(spec section 3, step 5) and writes the history back; stage 3 takes the
new history from a register for the PSP flag of the next step
(``psp_next``, updated at the end of stage 3), whether the PSP stops, and
the trace (:class:`.trace.KernelTrace`, three stages); stage 6
gives the pre trace X_a (``x_*`` outputs) and ``end`` for axon ``x_a``,
:data:`AXON_LATENCY` cycles after ``valid``.  With ``resync``
the history is not shifted and ``end`` flags every active PSP instead
(used to rebuild the synaptic inputs after the host changed state).

``psp`` holds one flag per axon: whether its PSP is active in the current
step.  A pass writes the flags of the next step into ``psp_next`` and
``commit`` copies them to ``psp``, so that the core's row walks, which run
beside the pass, read the current step's flags throughout (the pre traces
are paged for the same reason: rtl/core.py, "AXONS beside the walks").
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.spaces import Space
from .access import AccessSignature
from .pipeline import delayed, selected_bit
from .trace import TRACE_LATENCY, KernelTrace, trace_width

__all__ = ["AxonUnit", "AXON_LATENCY"]

#: cycles from ``valid`` to ``x_valid`` and ``end``
AXON_LATENCY = 3 + TRACE_LATENCY


class AxonUnit(wiring.Component):
    def __init__(self, params):
        p = params
        self._p = p
        super().__init__({
            "valid": In(1),
            "a": In(range(p.axons)),
            "spike": In(1),
            "resync": In(1),
            "tau_syn": In(8),
            "kernel": In(data.ArrayLayout(p.kernel_bits, p.history)),
            "x_valid": Out(1),
            "x_a": Out(range(p.axons)),
            "x": Out(trace_width(p.history, p.kernel_bits)),
            "end": Out(1),
            "psp": Out(p.axons),
            "psp_next": Out(p.axons),
            "commit": In(1),
            "access": Out(AccessSignature),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        H = p.history
        acc = self.access
        mem = Memory(shape=unsigned(H), depth=p.axons, init=[])
        m.submodules.hist = mem
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=(wp,))

        m.d.comb += rp.addr.eq(Mux(self.valid, self.a, acc.addr))
        s1_valid, s2_valid = Signal(), Signal()
        s1_a, s2_a = Signal(range(p.axons)), Signal(range(p.axons))
        s2_spike = Signal()
        m.d.sync += [s1_valid.eq(self.valid), s1_a.eq(self.a),
                     s2_valid.eq(s1_valid), s2_a.eq(s1_a), s2_spike.eq(self.spike)]
        # The flag of an axon before this step: selected in two stages from the
        # current flags, which change only on ``commit``.
        s2_psp_old = selected_bit(m, self.psp, self.a, "psp_old")
        hist = Signal(H)          # stage 1: the history word into a register
        m.d.sync += hist.eq(rp.data)
        window = Signal(H)        # the PSP window, a register: tau_syn changes only by the host
        m.d.sync += window.eq((Const(1, H + 1) << self.tau_syn) - 1)

        m.submodules.trace = trace = KernelTrace(H, p.kernel_bits)
        new_hist = Signal(H)
        m.d.comb += new_hist.eq(Mux(self.resync, hist, Cat(s2_spike, hist[:H - 1])))
        with m.If(s2_valid):
            m.d.comb += [wp.addr.eq(s2_a), wp.data.eq(new_hist), wp.en.eq(~self.resync)]

        # stage 3: the new history from a register: PSP flag, end, the trace's input
        h3, valid3, a3, psp_old3 = (delayed(m, v, 1, n) for v, n in (
            (new_hist, "new_hist"), (s2_valid, "valid"), (s2_a, "a"), (s2_psp_old, "psp_old")))
        psp_new = Signal()
        m.d.comb += [
            psp_new.eq((h3 & window) != 0),
            trace.hist.eq(h3),
            trace.kernel.eq(self.kernel),
            self.end.eq(delayed(m, valid3 & Mux(self.resync, psp_new, psp_old3 & ~psp_new),
                                TRACE_LATENCY, "end")),
            self.x_valid.eq(delayed(m, valid3, TRACE_LATENCY, "x_valid")),
            self.x_a.eq(delayed(m, a3, TRACE_LATENCY, "x_a")),
            self.x.eq(trace.trace),
        ]
        with m.If(valid3):
            m.d.sync += self.psp_next.bit_select(a3, 1).eq(psp_new)
        with m.If(self.commit):
            m.d.sync += self.psp.eq(self.psp_next)

        with m.If(acc.space == Space.AXON_HIST):
            m.d.comb += acc.rdata.eq(hist)
        with m.If(acc.we & (acc.space == Space.AXON_HIST)):
            m.d.comb += [wp.addr.eq(acc.addr), wp.data.eq(acc.wdata), wp.en.eq(1)]
        return m
