"""Axon unit: axon spike histories, PSP flags and pre traces.

One axon per cycle (``valid``, ``a``, ``spike`` = s_a(t)) in two stages:
stage 0 reads the history; stage 1 shifts the spike in (spec section 3,
step 5), recomputes the PSP flag for the next step and the pre trace X_a
(``x_*`` outputs), and flags ``end`` when the PSP stops.  With ``resync``
the history is not shifted and ``end`` flags every active PSP instead
(used to rebuild the synaptic inputs after the host changed state).

``psp`` holds one flag per axon: whether its PSP is active in the current
step.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.spaces import Space
from .access import AccessSignature
from .trace import KernelTrace, trace_width

__all__ = ["AxonUnit"]


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
        s1_valid = Signal()
        s1_a = Signal(range(p.axons))
        s1_spike = Signal()
        m.d.sync += [s1_valid.eq(self.valid), s1_a.eq(self.a), s1_spike.eq(self.spike)]

        m.submodules.trace = trace = KernelTrace(H, p.kernel_bits)
        new_hist = Signal(H)
        window = Signal(H)
        psp_new = Signal()
        psp_old = Signal()
        m.d.comb += [
            window.eq((Const(1, H + 1) << self.tau_syn) - 1),
            new_hist.eq(Mux(self.resync, rp.data, Cat(s1_spike, rp.data[:H - 1]))),
            psp_new.eq((new_hist & window) != 0),
            psp_old.eq(self.psp.bit_select(s1_a, 1)),
            trace.hist.eq(new_hist),
            trace.kernel.eq(self.kernel),
            self.x_valid.eq(s1_valid), self.x_a.eq(s1_a), self.x.eq(trace.trace),
            self.end.eq(s1_valid & Mux(self.resync, psp_new, psp_old & ~psp_new)),
        ]
        with m.If(s1_valid):
            m.d.sync += self.psp.bit_select(s1_a, 1).eq(psp_new)
            m.d.comb += [wp.addr.eq(s1_a), wp.data.eq(new_hist), wp.en.eq(~self.resync)]

        r_space = Signal(4)
        m.d.sync += r_space.eq(acc.space)
        with m.If(r_space == Space.AXON_HIST):
            m.d.comb += acc.rdata.eq(rp.data)
        with m.If(acc.we & (acc.space == Space.AXON_HIST)):
            m.d.comb += [wp.addr.eq(acc.addr), wp.data.eq(acc.wdata), wp.en.eq(1)]
        return m
