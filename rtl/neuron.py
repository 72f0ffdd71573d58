"""Neuron unit: potential, activation LUT, PRNG, refractoriness, spike history and post trace.

One neuron enters per cycle (``valid``, ``n``) and flows through three
stages (spec section 3, steps 1-2 and the neuron half of 5):

* stage 0: read addresses for bias, PRNG state, refractory counter,
  history and spike counter; the core reads the synaptic input I_n;
* stage 1: ``u = sat(b + I)``; LUT address; PRNG advance and write-back;
  potential write; post trace Y_n of the history (``y_*`` outputs);
* stage 2: LUT data; spike decision; refractory, counter and history
  write-back (``spike_*`` outputs).

Memories (one word per neuron): bias, PRNG state, refractory counter,
spike history (bit k-1 = spike k steps ago), last potential, spike count;
plus the activation LUT.  All are host-visible through ``access``.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.spaces import Space
from .access import AccessSignature
from .plasticity import SYN_INPUT_BITS
from .prng import Xorshift32
from .trace import KernelTrace, trace_width

__all__ = ["NeuronUnit"]


def _sat(value, lo, hi):
    return Mux(value > hi, hi, Mux(value < lo, lo, value))


class NeuronUnit(wiring.Component):
    def __init__(self, params):
        p = params
        self._p = p
        tw = trace_width(p.history, p.kernel_bits)
        super().__init__({
            "valid": In(1),
            "n": In(range(p.neurons)),
            "isyn": In(signed(SYN_INPUT_BITS)),
            "tau_ref": In(8),
            "lut_shift": In(5),
            "kernel": In(data.ArrayLayout(p.kernel_bits, p.history)),
            "y_valid": Out(1),
            "y_n": Out(range(p.neurons)),
            "y": Out(tw),
            "spike_valid": Out(1),
            "spike_n": Out(range(p.neurons)),
            "spike": Out(1),
            "access": Out(AccessSignature),
        })

    def elaborate(self, platform):
        m = Module()
        p = self._p
        N, H = p.neurons, p.history
        ulo, uhi = p.u_range
        acc = self.access

        def memory(name, shape, depth, init=()):
            mem = Memory(shape=shape, depth=depth, init=list(init))
            m.submodules[name] = mem
            wp = mem.write_port()
            return mem.read_port(transparent_for=(wp,)), wp

        mems = {
            Space.BIAS: memory("bias", signed(p.bias_bits), N),
            # reset state of the seeds: n + 1 (a xorshift32 state must not be 0)
            Space.SEED: memory("seed", unsigned(32), N, range(1, N + 1)),
            Space.REFRACTORY: memory("refractory", unsigned(8), N),
            Space.NEURON_HIST: memory("hist", unsigned(H), N),
            Space.POTENTIAL: memory("potential", signed(p.u_bits), N),
            Space.SPIKE_COUNT: memory("spike_count", unsigned(32), N),
            Space.LUT: memory("lut", unsigned(p.lut_width), p.lut_depth),
        }
        bias_r, _ = mems[Space.BIAS]
        seed_r, seed_w = mems[Space.SEED]
        refr_r, refr_w = mems[Space.REFRACTORY]
        hist_r, hist_w = mems[Space.NEURON_HIST]
        _, pot_w = mems[Space.POTENTIAL]
        cnt_r, cnt_w = mems[Space.SPIKE_COUNT]
        lut_r, _ = mems[Space.LUT]

        # stage 0
        for space, (rp, _) in mems.items():
            if space != Space.LUT:
                m.d.comb += rp.addr.eq(Mux(self.valid, self.n, acc.addr))
        s1_valid = Signal()
        s1_n = Signal(range(N))
        m.d.sync += [s1_valid.eq(self.valid), s1_n.eq(self.n)]

        # stage 1
        m.submodules.prng = prng = Xorshift32()
        m.submodules.trace = trace = KernelTrace(H, p.kernel_bits)
        u = Signal(signed(p.u_bits))
        shifted = Signal(signed(max(p.u_bits, p.lut_bits) + 2))
        lut_idx = Signal(p.lut_bits)
        m.d.comb += [
            u.eq(_sat(bias_r.data + self.isyn, ulo, uhi)),
            shifted.eq((u >> self.lut_shift) + (p.lut_depth >> 1)),
            lut_idx.eq(_sat(shifted, 0, p.lut_depth - 1)),
            lut_r.addr.eq(Mux(s1_valid, lut_idx, acc.addr)),
            prng.state.eq(seed_r.data),
            trace.hist.eq(hist_r.data),
            trace.kernel.eq(self.kernel),
            self.y_valid.eq(s1_valid), self.y_n.eq(s1_n), self.y.eq(trace.trace),
        ]
        with m.If(s1_valid):
            m.d.comb += [pot_w.addr.eq(s1_n), pot_w.data.eq(u), pot_w.en.eq(1),
                         seed_w.addr.eq(s1_n), seed_w.data.eq(prng.next), seed_w.en.eq(1)]
        s2_valid = Signal()
        s2_n = Signal(range(N))
        s2_rand = Signal(p.lut_width)
        s2_refr = Signal(8)
        s2_hist = Signal(H)
        s2_cnt = Signal(32)
        m.d.sync += [s2_valid.eq(s1_valid), s2_n.eq(s1_n),
                     s2_rand.eq(prng.next[32 - p.lut_width:]), s2_refr.eq(refr_r.data),
                     s2_hist.eq(hist_r.data), s2_cnt.eq(cnt_r.data)]

        # stage 2
        fire = Signal()
        certain = (1 << p.lut_width) - 1
        m.d.comb += [
            fire.eq((s2_refr == 0) & ((s2_rand < lut_r.data) | (lut_r.data == certain))),
            self.spike_valid.eq(s2_valid), self.spike_n.eq(s2_n), self.spike.eq(fire),
        ]
        with m.If(s2_valid):
            m.d.comb += [
                refr_w.addr.eq(s2_n), refr_w.en.eq(1),
                refr_w.data.eq(Mux(fire, self.tau_ref - 1, Mux(s2_refr == 0, 0, s2_refr - 1))),
                cnt_w.addr.eq(s2_n), cnt_w.en.eq(1),
                cnt_w.data.eq(Mux(fire & (s2_cnt != 0xFFFFFFFF), s2_cnt + 1, s2_cnt)),
                hist_w.addr.eq(s2_n), hist_w.en.eq(1),
                hist_w.data.eq(Cat(fire, s2_hist[:H - 1])),
            ]

        # host access (only while no neuron is in flight)
        r_space = Signal(4)
        m.d.sync += r_space.eq(acc.space)
        for space, (rp, wp) in mems.items():
            with m.If(r_space == space):
                m.d.comb += acc.rdata.eq(rp.data.as_unsigned() if rp.data.shape().signed
                                         else rp.data)
            if space != Space.POTENTIAL:
                with m.If(acc.we & (acc.space == space)):
                    m.d.comb += [wp.addr.eq(acc.addr), wp.data.eq(acc.wdata), wp.en.eq(1)]
        return m
