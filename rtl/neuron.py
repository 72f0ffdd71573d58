"""Neuron unit: potential, activation LUT, PRNG, refractoriness, spike history and post trace.

One neuron enters per cycle (``valid``, ``n``) and flows through nine
stages (spec section 3, steps 1-2 and the neuron half of 5); block-RAM
outputs are registered before use and no stage has more than one carry
chain and a few LUT levels:

* stage 0: read addresses for bias and PRNG state; the core reads the
  synaptic input I_n;
* stage 1: the memories' words into registers;
* stage 2: ``b + I`` (I_n arrives now, from the core's registered banks
  through its lane multiplexer); PRNG advance and write-back;
* stage 3: saturated to ``u``;
* stage 4: potential write; ``(u >> lut_shift) + depth/2``; refractory
  counter and spike count read (each memory is read two stages before its
  word is used, not carried down the pipeline);
* stage 5: saturate to the LUT address;
* stage 6: the LUT entry into a register; history read;
* stage 7: spike decision (a 16-bit compare, registered);
* stage 8: refractory, counter and history write-back (``spike_*``
  outputs, :data:`NEURON_LATENCY` cycles after ``valid``).  The decision
  drives memories and the core's spike lists, so it starts this stage
  from a register.  The post trace of the history as it was
  (:class:`.trace.KernelTrace`, ``y_*`` outputs, :data:`Y_LATENCY`) comes
  :data:`~.trace.TRACE_LATENCY` cycles later.

Memories (one word per neuron): bias, PRNG state, refractory counter,
spike history (bit k-1 = spike k steps ago), last potential, spike count;
plus the activation LUT.  All are host-visible through ``access``.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.spaces import Space
from .access import AccessSignature
from .compare import saturate
from .plasticity import SYN_INPUT_BITS
from .pipeline import delayed
from .prng import Xorshift32
from .trace import TRACE_LATENCY, KernelTrace, trace_width

__all__ = ["NeuronUnit", "NEURON_LATENCY", "Y_LATENCY"]

#: cycles from ``valid`` to ``spike_valid``, and to ``y_valid``
NEURON_LATENCY = 8
#: the stage that decides the spike
DECIDE = NEURON_LATENCY - 1
Y_LATENCY = NEURON_LATENCY + TRACE_LATENCY


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

        last = max(NEURON_LATENCY, Y_LATENCY)
        valid = [self.valid] + [Signal(name=f"s{i}_valid") for i in range(1, last + 1)]
        n = [self.n] + [Signal(range(N), name=f"s{i}_n") for i in range(1, last + 1)]
        for i in range(1, last + 1):
            m.d.sync += [valid[i].eq(valid[i - 1]), n[i].eq(n[i - 1])]
        # Each memory is read at the stage that makes its word arrive (two cycles later)
        # where it is used, rather than at stage 0 and carried down the pipeline: the
        # history (H bits) and the counts would otherwise fill delay lines.
        read_stage = {Space.REFRACTORY: DECIDE - 3, Space.SPIKE_COUNT: DECIDE - 3,
                      Space.NEURON_HIST: NEURON_LATENCY - 2}
        for space, (rp, _) in mems.items():
            if space != Space.LUT:
                k = read_stage.get(space, 0)
                m.d.comb += rp.addr.eq(Mux(valid[k], n[k], acc.addr))

        # stage 1: every memory's word into a register (also what a host read returns)
        q = {}
        for space, (rp, _) in mems.items():
            q[space] = Signal(rp.data.shape(), name=f"q_{space.name.lower()}")
            m.d.sync += q[space].eq(rp.data)

        # stage 2
        m.submodules.prng = prng = Xorshift32()
        m.submodules.trace = trace = KernelTrace(H, p.kernel_bits)
        u_sum = Signal(signed(max(p.bias_bits, SYN_INPUT_BITS) + 1))
        m.d.sync += u_sum.eq(q[Space.BIAS] + self.isyn)
        m.d.comb += prng.state.eq(q[Space.SEED])
        with m.If(valid[2]):
            m.d.comb += [seed_w.addr.eq(n[2]), seed_w.data.eq(prng.next), seed_w.en.eq(1)]
        rand = delayed(m, prng.next[32 - p.lut_width:], DECIDE - 2, "rand")
        # the refractory and count updates of both outcomes, ready before the decision
        refr, cnt = q[Space.REFRACTORY], q[Space.SPIKE_COUNT]
        refr_zero, refr_next, cnt_next = Signal(), Signal(8), Signal(32)
        m.d.sync += [refr_zero.eq(refr == 0), refr_next.eq(Mux(refr == 0, 0, refr - 1)),
                     cnt_next.eq(Mux(cnt != 0xFFFFFFFF, cnt + 1, cnt))]
        refr_next = delayed(m, refr_next, NEURON_LATENCY - DECIDE, "refr_next")
        cnt_next = delayed(m, cnt_next, NEURON_LATENCY - DECIDE, "cnt_next")
        cnt = delayed(m, cnt, NEURON_LATENCY - DECIDE + 1, "cnt_stay")

        # stage 3
        u = Signal(signed(p.u_bits))
        m.d.sync += u.eq(saturate(u_sum, ulo, uhi))

        # stage 4
        shifted = Signal(signed(max(p.u_bits, p.lut_bits) + 2))
        m.d.sync += shifted.eq((u >> self.lut_shift) + (p.lut_depth >> 1))
        m.d.comb += [self.y_valid.eq(valid[Y_LATENCY]), self.y_n.eq(n[Y_LATENCY]),
                     self.y.eq(trace.trace)]
        with m.If(valid[4]):
            m.d.comb += [pot_w.addr.eq(n[4]), pot_w.data.eq(u), pot_w.en.eq(1)]

        # stage 5: the LUT address; stage 6: its entry
        m.d.comb += lut_r.addr.eq(Mux(valid[5], saturate(shifted, 0, p.lut_depth - 1),
                                      acc.addr))

        # stage 7: the decision; stage 8: its write-backs, and the post trace of the history
        # as it was (Y_LATENCY)
        hist = q[Space.NEURON_HIST]
        m.d.comb += [trace.hist.eq(hist), trace.kernel.eq(self.kernel)]
        lut = q[Space.LUT]
        fire = Signal()
        certain = (1 << p.lut_width) - 1
        m.d.sync += fire.eq(refr_zero & ((rand < lut) | (lut == certain)))
        s = NEURON_LATENCY
        m.d.comb += [
            self.spike_valid.eq(valid[s]), self.spike_n.eq(n[s]), self.spike.eq(fire),
        ]
        with m.If(valid[s]):
            m.d.comb += [
                refr_w.addr.eq(n[s]), refr_w.en.eq(1),
                refr_w.data.eq(Mux(fire, self.tau_ref - 1, refr_next)),
                cnt_w.addr.eq(n[s]), cnt_w.en.eq(1),
                cnt_w.data.eq(Mux(fire, cnt_next, cnt)),
                hist_w.addr.eq(n[s]), hist_w.en.eq(1),
                hist_w.data.eq(Cat(fire, hist[:H - 1])),
            ]

        # host access (only while no neuron is in flight): the stage-1 registers
        for space, (rp, wp) in mems.items():
            with m.If(acc.space == space):
                m.d.comb += acc.rdata.eq(q[space].as_unsigned() if q[space].shape().signed
                                         else q[space])
            if space != Space.POTENTIAL:
                with m.If(acc.we & (acc.space == space)):
                    m.d.comb += [wp.addr.eq(acc.addr), wp.data.eq(acc.wdata), wp.en.eq(1)]
        return m
