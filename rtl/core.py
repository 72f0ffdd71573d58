"""The SAL core: neurons, synapse memory, plasticity and timestep controller in one component.

A time-multiplexed core that implements docs/spec.md bit for bit.  The
step runs in phases, each a walk over memory with a two-stage pipeline
(stage 0 presents read addresses, stage 1 computes and writes back; every
read port is transparent to its memory's write port, so a word written by
stage 1 can be read by the very next stage 0):

==========  ==============================================================
RESYNC      only after the host changed weights, rules, kernel, histories
            or configuration: clear the synaptic inputs, recompute every
            axon's PSP flag and pre trace, add the rows of active PSPs.
NEURON      one neuron per cycle (3 stages): potential, LUT, PRNG, spike,
            post trace Y, neuron history shift.  Spiking neurons are
            listed; on this single-core build neuron n drives axon n.
ROWS        per spiking axon a: row a, ``lanes`` synapses per cycle:
            acc += c_anticausal Y_n + (s_n ? c_causal X_a : 0); a PSP that
            starts adds the row to the synaptic inputs.
COLUMNS     per spiking neuron n: column n, ``lanes`` axons per cycle,
            skipping axons that spiked (their synapse was done in ROWS):
            acc += c_causal X_a.
AXONS       one axon per cycle: history shift, PSP flag, pre trace for
            the next step; PSPs that end are listed.
ENDS        per ending PSP: subtract the row from the synaptic inputs.
APPLY       when due: every row, w += acc >> eta_s with carry; rows with
            an active PSP correct the synaptic inputs by the change.
==========  ==============================================================

Synapse memory is ``lanes`` banks.  Synapse (a, n) lives in bank
``(a + n) mod lanes`` at address ``a * N / lanes + n / lanes`` (skewed
storage): a row and a column both touch every bank once per cycle, so rows
and columns both run at ``lanes`` synapses per cycle.

Synapse word (LSB first): weight (weight_bits, signed), accumulator
(acc_bits, signed), rule index (log2 rules).
"""

from amaranth.hdl import (Array, Cat, Const, Module, Mux, Signal, signed, unsigned)
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.params import CoreParams
from ..golden.spaces import Config, Space, space_info
from .command import Op, command_signature, response_signature

__all__ = ["SALCore"]

_SYN_BITS = 28   # synaptic-input sum: A * 2**7 * 2**7 < 2**27 for A <= 4096 (spec section 2)


def _log2(x):
    return (x - 1).bit_length()


def _is_pow2(x):
    return x > 0 and x & (x - 1) == 0


def _sat(value, lo, hi):
    return Mux(value > hi, hi, Mux(value < lo, lo, value))


class SALCore(wiring.Component):
    """One SAL core with its command port.

    Parameters
    ----------
    params : CoreParams
        Build-time parameters (docs/spec.md section 2).  This RTL needs
        ``neurons`` and ``axons`` to be powers of two, ``history <= 64`` and
        ``rules >= 2``.
    lanes : int
        Synapses processed per cycle in the row and column walks (power of
        two, dividing ``neurons`` and ``axons``).

    Attributes
    ----------
    cmd : In(command_signature)
        Commands, see :mod:`.command`.
    rsp : Out(response_signature)
        One response per command.
    """

    def __init__(self, params=CoreParams(), lanes=1):
        p = params
        if not _is_pow2(p.neurons) or not _is_pow2(p.axons):
            raise ValueError(f"this core needs power-of-two neurons and axons, not "
                             f"{p.neurons} and {p.axons}")
        if p.history > 64:
            raise ValueError(f"history must be at most 64 for this core, not {p.history}")
        if p.rules < 2:
            raise ValueError(f"rules must be at least 2 for this core, not {p.rules}")
        if not _is_pow2(lanes) or lanes > min(p.neurons, p.axons):
            raise ValueError(f"lanes must be a power of two dividing neurons and axons, "
                             f"not {lanes!r}")
        self._p = p
        self._lanes = lanes
        super().__init__({"cmd": In(command_signature), "rsp": Out(response_signature)})

    @property
    def params(self):
        return self._p

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        p, L = self._p, self._lanes
        N, A, H = p.neurons, p.axons, p.history
        NW, AG = N // L, A // L
        nb, ab, lb = _log2(N), _log2(A), _log2(L)
        wlo, whi = p.weight_range
        alo, ahi = p.acc_range
        ulo, uhi = p.u_range
        tw = p.kernel_bits + _log2(H + 1)   # trace width

        syn_layout = data.StructLayout({
            "weight": signed(p.weight_bits),
            "acc": signed(p.acc_bits),
            "rule": unsigned(p.rule_bits),
        })

        # -- memories ------------------------------------------------------
        def memory(name, shape, depth):
            mem = Memory(shape=shape, depth=depth, init=[])
            m.submodules[name] = mem
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,))
            return rp, wp

        syn = [memory(f"syn{b}", syn_layout, A * NW) for b in range(L)]
        ibank = [memory(f"isyn{b}", signed(_SYN_BITS), NW) for b in range(L)]
        ybank = [memory(f"ytrace{b}", unsigned(tw), NW) for b in range(L)]
        xbank = [memory(f"xtrace{b}", unsigned(tw), AG) for b in range(L)]
        bias_r, bias_w = memory("bias", signed(p.bias_bits), N)
        seed_r, seed_w = memory("seed", unsigned(32), N)
        refr_r, refr_w = memory("refractory", unsigned(8), N)
        nh_r, nh_w = memory("neuron_hist", unsigned(H), N)
        ah_r, ah_w = memory("axon_hist", unsigned(H), A)
        pot_r, pot_w = memory("potential", signed(p.u_bits), N)
        cnt_r, cnt_w = memory("spike_count", unsigned(32), N)
        lut_r, lut_w = memory("lut", unsigned(p.lut_width), p.lut_depth)
        nl_r, nl_w = memory("neuron_list", unsigned(max(nb, 1)), N)
        al_r, al_w = memory("axon_list", unsigned(max(ab, 1)), A)
        el_r, el_w = memory("end_list", unsigned(max(ab, 1)), A)

        # -- registers -------------------------------------------------------
        kernel = [Signal(p.kernel_bits, name=f"kernel{k + 1}") for k in range(H)]
        rules = [Signal(16, name=f"rule{r}") for r in range(p.rules)]
        tau_ref = Signal(8, init=1)
        tau_syn = Signal(8, init=1)
        lut_shift = Signal(5)
        apply_period = Signal(16)
        phase_count = Signal(16)
        step_count = Signal(32)
        apply_count = Signal(32)
        spikes = Signal(N)          # s_n(t)
        axon_spikes = Signal(A)     # s_a(t)
        psp = Signal(A)             # PSP flag per axon for the current step
        n_count = Signal(nb + 1)    # list lengths
        a_count = Signal(ab + 1)
        e_count = Signal(ab + 1)
        dirty = Signal(init=1)      # synaptic inputs / traces / PSP flags need a resync

        g = p.gain_bits

        def rule_fields(word):
            return (word[0:g].as_signed(), word[g:2 * g].as_signed(),
                    word[2 * g:2 * g + 5], word[2 * g + 5:2 * g + 8])

        rule_table = Array(rules)

        def trace(hist):
            terms = [Mux(hist[k], kernel[k], 0) for k in range(H)]
            while len(terms) > 1:
                terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                         for i in range(0, len(terms), 2)]
            return terms[0]

        # Every write-port enable defaults low each cycle.
        all_w = ([wp for _, wp in syn + ibank + ybank + xbank]
                 + [bias_w, seed_w, refr_w, nh_w, ah_w, pot_w, cnt_w, lut_w, nl_w, al_w, el_w])

        # -- stage-1 control (registered from stage 0) --------------------------
        KIND_NONE, KIND_ROW, KIND_COL, KIND_END, KIND_APPLY, KIND_ADD = range(6)
        s1_kind = Signal(3)
        s1_a = Signal(max(ab, 1))          # row: axon
        s1_w = Signal(max(_log2(NW), 1))   # row: word (also the synaptic-input word)
        s1_n = Signal(max(nb, 1))          # column: neuron
        s1_g = Signal(max(_log2(AG), 1))   # column: axon group
        s1_x = Signal(tw)                  # row: pre trace X_a
        s1_start = Signal()                # row: PSP starts
        s1_psp = Signal()                  # apply: PSP active
        s1_addr = [Signal(range(A * NW), name=f"s1_addr{b}") for b in range(L)]
        m.d.sync += s1_kind.eq(KIND_NONE)

        # Rotation: lane j of a row (axon a) is bank (a + j) mod L; lane j of a
        # column (neuron n) is bank (j + n) mod L.
        rot = Signal(max(lb, 1))
        m.d.comb += rot.eq(Mux(s1_kind == KIND_COL, s1_n[:max(lb, 1)], s1_a[:max(lb, 1)])
                           if L > 1 else 0)
        lane_word = [data.View(syn_layout, Signal(syn_layout, name=f"lane_word{j}"))
                     for j in range(L)]
        syn_data = Array([rp.data for rp, _ in syn])
        for j in range(L):
            m.d.comb += lane_word[j].eq(syn_data[(rot + j)[:lb]] if L > 1 else syn[0][0].data)
        lane_new = [Signal(syn_layout, name=f"lane_new{j}") for j in range(L)]
        lane_we = Signal(L)
        lane_view = [data.View(syn_layout, s) for s in lane_new]
        for b in range(L):
            j = (Const(b, lb) - rot)[:lb] if L > 1 else 0
            m.d.comb += [
                syn[b][1].addr.eq(s1_addr[b]),
                syn[b][1].data.eq(Array(lane_new)[j] if L > 1 else lane_new[0]),
                syn[b][1].en.eq(lane_we.bit_select(j, 1) if L > 1 else lane_we[0]),
            ]

        # Stage 1 per lane.
        spike_arr = Array(spikes[i] for i in range(N))
        axon_arr = Array(axon_spikes[i] for i in range(A))
        for j in range(L):
            wv = lane_word[j]
            gc, ga, eta_s, wexp = rule_fields(rule_table[wv.rule])
            y = ybank[j][0].data
            x_col = xbank[j][0].data
            isyn = ibank[j][0].data
            n_row = Cat(Const(j, lb), s1_w) if L > 1 else s1_w
            a_col = Cat(Const(j, lb), s1_g) if L > 1 else s1_g
            contrib = Signal(signed(_SYN_BITS), name=f"contrib{j}")
            m.d.comb += contrib.eq(wv.weight << wexp)
            inc = Signal(signed(p.acc_bits + tw + g + 2), name=f"inc{j}")
            acc_new = Signal(signed(p.acc_bits), name=f"acc_new{j}")
            dw = Signal(signed(p.acc_bits), name=f"dw{j}")
            w_new = Signal(signed(p.weight_bits), name=f"w_new{j}")
            m.d.comb += [
                lane_view[j].eq(wv),
                dw.eq(wv.acc >> eta_s),
                w_new.eq(_sat(wv.weight + dw, wlo, whi)),
            ]
            with m.Switch(s1_kind):
                with m.Case(KIND_ROW):
                    m.d.comb += [
                        inc.eq(ga * y + Mux(spike_arr[n_row], gc * s1_x, 0)),
                        acc_new.eq(_sat(wv.acc + inc, alo, ahi)),
                        lane_view[j].acc.eq(acc_new),
                        lane_we[j].eq(1),
                    ]
                    with m.If(s1_start):
                        m.d.comb += [ibank[j][1].addr.eq(s1_w),
                                     ibank[j][1].data.eq(isyn + contrib),
                                     ibank[j][1].en.eq(1)]
                with m.Case(KIND_COL):
                    with m.If(~axon_arr[a_col]):
                        m.d.comb += [
                            inc.eq(gc * x_col),
                            acc_new.eq(_sat(wv.acc + inc, alo, ahi)),
                            lane_view[j].acc.eq(acc_new),
                            lane_we[j].eq(1),
                        ]
                with m.Case(KIND_END, KIND_ADD):
                    m.d.comb += [ibank[j][1].addr.eq(s1_w),
                                 ibank[j][1].data.eq(Mux(s1_kind == KIND_ADD, isyn + contrib,
                                                         isyn - contrib)),
                                 ibank[j][1].en.eq(1)]
                with m.Case(KIND_APPLY):
                    m.d.comb += [
                        lane_view[j].weight.eq(w_new),
                        lane_view[j].acc.eq(wv.acc - (dw << eta_s)),
                        lane_we[j].eq(1),
                    ]
                    with m.If(s1_psp):
                        m.d.comb += [ibank[j][1].addr.eq(s1_w),
                                     ibank[j][1].data.eq(isyn + (w_new << wexp) - contrib),
                                     ibank[j][1].en.eq(1)]

        # -- stage-0 helpers -------------------------------------------------------
        wbits = max(_log2(NW), 1)

        def issue_row(kind, a, w):
            """Stage 0 of row a, word w: every bank at a * NW + w.  Returns (comb, sync)."""
            addr = Cat(w[:_log2(NW)], a[:ab]) if NW > 1 else a[:max(ab, 1)]
            comb = [syn[b][0].addr.eq(addr) for b in range(L)]
            comb += [ybank[j][0].addr.eq(w) for j in range(L)]
            comb += [ibank[j][0].addr.eq(w) for j in range(L)]
            sync = [s1_kind.eq(kind), s1_a.eq(a), s1_w.eq(w)]
            sync += [s1_addr[b].eq(addr) for b in range(L)]
            return comb, sync

        def issue_col(n, gidx):
            """Stage 0 of column n, group gidx: lane j is axon gidx * L + j, in bank (j + n) mod L."""
            comb, sync = [], [s1_kind.eq(KIND_COL), s1_n.eq(n), s1_g.eq(gidx)]
            nhi = n[lb:nb]
            for b in range(L):
                if L > 1:
                    j = Const(b, lb) - n[:lb]
                    a = Cat(j[:lb], gidx[:_log2(AG)]) if AG > 1 else j[:lb]
                else:
                    a = gidx[:max(ab, 1)]
                addr = Cat(nhi, a) if NW > 1 else a
                comb.append(syn[b][0].addr.eq(addr))
                sync.append(s1_addr[b].eq(addr))
            comb += [xbank[j][0].addr.eq(gidx) for j in range(L)]
            return comb, sync

        # -- command decode -------------------------------------------------------
        cmd = self.cmd.payload
        rsp_data = Signal(64)
        rsp_err = Signal()
        m.d.comb += [self.rsp.payload.data.eq(rsp_data), self.rsp.payload.error.eq(rsp_err)]
        c_op = Signal(3)
        c_space = Signal(4)
        c_addr = Signal(32)
        c_data = Signal(64)
        steps_left = Signal(64)
        cycles = Signal(64)
        count_cycles = Signal()
        with m.If(count_cycles):
            m.d.sync += cycles.eq(cycles + 1)

        # synapse-space address decode: addr = a * N + n
        acc_a = c_addr[nb:nb + ab] if ab else Const(0, 1)
        acc_n = c_addr[:nb] if nb else Const(0, 1)
        acc_bank = Signal(max(lb, 1))
        m.d.comb += acc_bank.eq((acc_a + acc_n)[:lb] if L > 1 else 0)
        acc_baddr = Cat(acc_n[lb:], acc_a) if NW > 1 else acc_a
        syn_space = (c_space == Space.WEIGHT) | (c_space == Space.ACC) | \
                    (c_space == Space.RULE_INDEX)

        def depth_of(space):
            return space_info(p, space).depth

        in_range = Signal()
        with m.Switch(c_space):
            for sp in Space:
                with m.Case(sp):
                    m.d.comb += in_range.eq(c_addr < depth_of(sp))
            with m.Default():
                m.d.comb += in_range.eq(0)

        def fits(bits, is_signed):
            # Words travel zero-extended, signed ones as their two's-complement bits.
            return c_data[bits:64] == 0 if bits < 64 else Const(1)

        value_ok = Signal()
        with m.Switch(c_space):
            for sp in Space:
                info = space_info(p, sp)
                with m.Case(sp):
                    if sp == Space.CONFIG:
                        limits = {Config.TAU_REF: (1, 255), Config.TAU_SYN: (1, H),
                                  Config.LUT_SHIFT: (0, p.u_bits - 1),
                                  Config.APPLY_PERIOD: (0, 65535),
                                  Config.PHASE_COUNT: (0, 65535),
                                  Config.STEP_COUNT: (0, 2 ** 32 - 1),
                                  Config.APPLY_COUNT: (0, 2 ** 32 - 1)}
                        with m.Switch(c_addr):
                            for reg, (lo, hi) in limits.items():
                                with m.Case(reg):
                                    m.d.comb += value_ok.eq((c_data >= lo) & (c_data <= hi))
                    elif sp == Space.SEED:
                        m.d.comb += value_ok.eq(fits(32, False) & (c_data != 0))
                    elif sp == Space.RULES:
                        m.d.comb += value_ok.eq(fits(16, False))
                    else:
                        m.d.comb += value_ok.eq(fits(info.bits, info.signed) & info.writable)

        # -- the state machine ---------------------------------------------------------
        idx = Signal(max(A * NW, N, A, p.lut_depth) .bit_length() + 1)
        sub = Signal(max(NW, AG).bit_length() + 1)
        cur = Signal(max(ab, nb, 1))
        x_latch = Signal(tw)
        resync_mode = Signal()
        # neuron pipeline registers
        n1_valid = Signal()
        n1_n = Signal(max(nb, 1))
        n2_valid = Signal()
        n2_n = Signal(max(nb, 1))
        n2_rand = Signal(p.lut_width)
        n2_refr = Signal(8)
        n2_hist = Signal(H)
        n2_cnt = Signal(32)
        # axon pass pipeline registers
        a1_valid = Signal()
        a1_a = Signal(max(ab, 1))
        m.d.sync += [n1_valid.eq(0), n2_valid.eq(0), a1_valid.eq(0)]

        # Neuron stage 1: potential, LUT address, PRNG, post trace.
        u = Signal(signed(p.u_bits))
        ibank_n = Array([ib[0].data for ib in ibank])[n1_n[:lb]] if L > 1 else ibank[0][0].data
        m.d.comb += u.eq(_sat(bias_r.data + ibank_n, ulo, uhi))
        shifted = Signal(signed(p.u_bits + 1))
        m.d.comb += shifted.eq((u >> lut_shift) + (p.lut_depth >> 1))
        lut_idx = Signal(p.lut_bits)
        m.d.comb += lut_idx.eq(_sat(shifted, 0, p.lut_depth - 1))
        x1 = seed_r.data ^ (seed_r.data << 13)[:32]
        x2 = x1 ^ (x1 >> 17)
        x3 = (x2 ^ (x2 << 5)[:32])[:32]
        trace_in = Signal(H)
        trace_out = Signal(tw)
        m.d.comb += trace_out.eq(trace(trace_in))
        with m.If(n1_valid):
            m.d.comb += [
                pot_w.addr.eq(n1_n), pot_w.data.eq(u), pot_w.en.eq(1),
                lut_r.addr.eq(lut_idx),
                seed_w.addr.eq(n1_n), seed_w.data.eq(x3), seed_w.en.eq(1),
                trace_in.eq(nh_r.data),
            ]
            for j in range(L):
                sel = (n1_n[:lb] == j) if L > 1 else Const(1)
                m.d.comb += [ybank[j][1].addr.eq(n1_n[lb:] if L > 1 else n1_n),
                             ybank[j][1].data.eq(trace_out), ybank[j][1].en.eq(sel)]
            m.d.sync += [n2_valid.eq(1), n2_n.eq(n1_n), n2_rand.eq(x3[32 - p.lut_width:]),
                         n2_refr.eq(refr_r.data), n2_hist.eq(nh_r.data), n2_cnt.eq(cnt_r.data)]
        # Neuron stage 2: spike decision and write-back.
        fire = Signal()
        certain = (1 << p.lut_width) - 1
        m.d.comb += fire.eq((n2_refr == 0) & ((n2_rand < lut_r.data) | (lut_r.data == certain)))
        with m.If(n2_valid):
            m.d.comb += [
                refr_w.addr.eq(n2_n), refr_w.en.eq(1),
                refr_w.data.eq(Mux(fire, tau_ref - 1, Mux(n2_refr == 0, 0, n2_refr - 1))),
                cnt_w.addr.eq(n2_n), cnt_w.en.eq(1),
                cnt_w.data.eq(Mux(fire & (n2_cnt != 0xFFFFFFFF), n2_cnt + 1, n2_cnt)),
                nh_w.addr.eq(n2_n), nh_w.en.eq(1),
                nh_w.data.eq(Cat(fire, n2_hist[:H - 1])),
            ]
            with m.If(fire):
                m.d.sync += [spikes.bit_select(n2_n, 1).eq(1), n_count.eq(n_count + 1)]
                m.d.comb += [nl_w.addr.eq(n_count), nl_w.data.eq(n2_n), nl_w.en.eq(1)]
                if A >= N:
                    m.d.sync += [axon_spikes.bit_select(n2_n, 1).eq(1), a_count.eq(a_count + 1)]
                    m.d.comb += [al_w.addr.eq(a_count), al_w.data.eq(n2_n), al_w.en.eq(1)]
                else:
                    with m.If(n2_n < A):
                        m.d.sync += [axon_spikes.bit_select(n2_n[:ab], 1).eq(1),
                                     a_count.eq(a_count + 1)]
                        m.d.comb += [al_w.addr.eq(a_count), al_w.data.eq(n2_n[:ab]),
                                     al_w.en.eq(1)]

        # Axon pass stage 1: history shift, PSP flag, pre trace, PSP-end list.
        new_hist = Signal(H)
        psp_mask = Signal(H)
        psp_new = Signal()
        m.d.comb += [
            psp_mask.eq((Const(1, H + 1) << tau_syn) - 1),
            new_hist.eq(Mux(resync_mode, ah_r.data,
                            Cat(axon_arr[a1_a], ah_r.data[:H - 1]))),
            psp_new.eq((new_hist & psp_mask) != 0),
        ]
        with m.If(a1_valid):
            m.d.comb += [
                trace_in.eq(new_hist),
                ah_w.addr.eq(a1_a), ah_w.data.eq(new_hist), ah_w.en.eq(~resync_mode),
            ]
            for j in range(L):
                sel = (a1_a[:lb] == j) if L > 1 else Const(1)
                m.d.comb += [xbank[j][1].addr.eq(a1_a[lb:] if L > 1 else a1_a),
                             xbank[j][1].data.eq(trace_out), xbank[j][1].en.eq(sel)]
            m.d.sync += psp.bit_select(a1_a, 1).eq(psp_new)
            with m.If(Mux(resync_mode, psp_new, psp.bit_select(a1_a, 1) & ~psp_new)):
                m.d.comb += [el_w.addr.eq(e_count), el_w.data.eq(a1_a), el_w.en.eq(1)]
                m.d.sync += e_count.eq(e_count + 1)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += [c_op.eq(cmd.op), c_space.eq(cmd.space), c_addr.eq(cmd.addr),
                                 c_data.eq(cmd.data), rsp_err.eq(0), rsp_data.eq(0)]
                    m.next = "DECODE"
            with m.State("DECODE"):
                with m.Switch(c_op):
                    with m.Case(Op.READ):
                        with m.If(~in_range):
                            m.d.sync += rsp_err.eq(1)
                            m.next = "RESPOND"
                        with m.Else():
                            m.next = "READ"
                    with m.Case(Op.WRITE):
                        with m.If(~in_range | ~value_ok):
                            m.d.sync += rsp_err.eq(1)
                            m.next = "RESPOND"
                        with m.Elif(syn_space):
                            m.next = "WRITE_RMW"
                        with m.Else():
                            m.next = "WRITE"
                    with m.Case(Op.RUN):
                        m.d.sync += [steps_left.eq(c_data), cycles.eq(0)]
                        with m.If(c_data == 0):
                            m.next = "RESPOND"
                        with m.Else():
                            m.d.sync += count_cycles.eq(1)
                            m.next = "STEP"
                    with m.Case(Op.APPLY):
                        m.d.sync += [steps_left.eq(0), cycles.eq(0), count_cycles.eq(1)]
                        m.next = "STEP"
                    with m.Default():
                        m.d.sync += rsp_err.eq(1)
                        m.next = "RESPOND"

            # ---- host access -----------------------------------------------------
            def read_addr_stmts():
                stmts = []
                for b in range(L):
                    stmts.append(syn[b][0].addr.eq(acc_baddr))
                for rp in (bias_r, seed_r, refr_r, nh_r, pot_r, cnt_r):
                    stmts.append(rp.addr.eq(c_addr))
                stmts += [ah_r.addr.eq(c_addr), lut_r.addr.eq(c_addr)]
                return stmts

            with m.State("READ"):
                m.d.comb += read_addr_stmts()
                m.next = "READ_DATA"
            with m.State("READ_DATA"):
                word = data.View(syn_layout, syn_data[acc_bank] if L > 1 else syn[0][0].data)
                cfgs = Array([tau_ref, tau_syn, lut_shift, apply_period, phase_count,
                              step_count, apply_count])
                n_words = (N + 31) // 32
                spike_words = Array([spikes[32 * i:min(32 * i + 32, N)] for i in range(n_words)])
                with m.Switch(c_space):
                    with m.Case(Space.CONFIG):
                        m.d.sync += rsp_data.eq(cfgs[c_addr[:3]])
                    with m.Case(Space.WEIGHT):
                        m.d.sync += rsp_data.eq(word.weight.as_unsigned())
                    with m.Case(Space.ACC):
                        m.d.sync += rsp_data.eq(word.acc.as_unsigned())
                    with m.Case(Space.RULE_INDEX):
                        m.d.sync += rsp_data.eq(word.rule)
                    with m.Case(Space.RULES):
                        m.d.sync += rsp_data.eq(rule_table[c_addr[:p.rule_bits]])
                    with m.Case(Space.BIAS):
                        m.d.sync += rsp_data.eq(bias_r.data.as_unsigned())
                    with m.Case(Space.LUT):
                        m.d.sync += rsp_data.eq(lut_r.data)
                    with m.Case(Space.KERNEL):
                        m.d.sync += rsp_data.eq(Array(kernel)[c_addr[:_log2(H) or 1]])
                    with m.Case(Space.SEED):
                        m.d.sync += rsp_data.eq(seed_r.data)
                    with m.Case(Space.REFRACTORY):
                        m.d.sync += rsp_data.eq(refr_r.data)
                    with m.Case(Space.NEURON_HIST):
                        m.d.sync += rsp_data.eq(nh_r.data)
                    with m.Case(Space.AXON_HIST):
                        m.d.sync += rsp_data.eq(ah_r.data)
                    with m.Case(Space.POTENTIAL):
                        m.d.sync += rsp_data.eq(pot_r.data.as_unsigned())
                    with m.Case(Space.SPIKE_COUNT):
                        m.d.sync += rsp_data.eq(cnt_r.data)
                    with m.Case(Space.SPIKES):
                        m.d.sync += rsp_data.eq(spike_words[c_addr[:max(_log2(n_words), 1)]])
                m.next = "RESPOND"

            with m.State("WRITE_RMW"):
                for b in range(L):
                    m.d.comb += syn[b][0].addr.eq(acc_baddr)
                m.next = "WRITE"
            with m.State("WRITE"):
                m.d.sync += dirty.eq(1)
                word = data.View(syn_layout, syn_data[acc_bank] if L > 1 else syn[0][0].data)
                merged = Signal(syn_layout)
                mview = data.View(syn_layout, merged)
                m.d.comb += mview.eq(word)
                with m.Switch(c_space):
                    with m.Case(Space.WEIGHT):
                        m.d.comb += mview.weight.eq(c_data[:p.weight_bits])
                    with m.Case(Space.ACC):
                        m.d.comb += mview.acc.eq(c_data[:p.acc_bits])
                    with m.Case(Space.RULE_INDEX):
                        m.d.comb += mview.rule.eq(c_data[:p.rule_bits])
                with m.If(syn_space):
                    for b in range(L):
                        m.d.comb += [syn[b][1].addr.eq(acc_baddr), syn[b][1].data.eq(merged),
                                     syn[b][1].en.eq(acc_bank == b)]
                with m.Switch(c_space):
                    with m.Case(Space.CONFIG):
                        regs = [tau_ref, tau_syn, lut_shift, apply_period, phase_count,
                                step_count, apply_count]
                        with m.Switch(c_addr):
                            for i, reg in enumerate(regs):
                                with m.Case(i):
                                    m.d.sync += reg.eq(c_data)
                    with m.Case(Space.RULES):
                        m.d.sync += rule_table[c_addr[:p.rule_bits]].eq(c_data)
                    with m.Case(Space.KERNEL):
                        m.d.sync += Array(kernel)[c_addr[:_log2(H) or 1]].eq(c_data)
                    for sp, wp in ((Space.BIAS, bias_w), (Space.LUT, lut_w),
                                   (Space.SEED, seed_w), (Space.REFRACTORY, refr_w),
                                   (Space.NEURON_HIST, nh_w), (Space.AXON_HIST, ah_w),
                                   (Space.SPIKE_COUNT, cnt_w)):
                        with m.Case(sp):
                            m.d.comb += [wp.addr.eq(c_addr), wp.data.eq(c_data), wp.en.eq(1)]
                m.next = "RESPOND"

            with m.State("RESPOND"):
                m.d.sync += count_cycles.eq(0)
                m.d.comb += self.rsp.valid.eq(1)
                with m.If(self.rsp.ready):
                    m.next = "IDLE"

            # ---- the timestep --------------------------------------------------------
            with m.State("STEP"):
                m.d.sync += [idx.eq(0), sub.eq(0), n_count.eq(0), a_count.eq(0),
                             e_count.eq(0)]
                with m.If(dirty):
                    m.d.sync += resync_mode.eq(1)
                    m.next = "RS_CLEAR"
                with m.Elif(steps_left == 0):
                    m.next = "APPLY"
                with m.Else():
                    m.d.sync += [spikes.eq(0), axon_spikes.eq(0)]
                    m.next = "NEURON"

            with m.State("RS_CLEAR"):
                for j in range(L):
                    m.d.comb += [ibank[j][1].addr.eq(idx), ibank[j][1].data.eq(0),
                                 ibank[j][1].en.eq(1)]
                m.d.sync += idx.eq(idx + 1)
                with m.If(idx == NW - 1):
                    m.d.sync += [idx.eq(0), axon_spikes.eq(0)]
                    m.next = "AXONS"

            with m.State("NEURON"):
                m.d.comb += [bias_r.addr.eq(idx), seed_r.addr.eq(idx), refr_r.addr.eq(idx),
                             nh_r.addr.eq(idx), cnt_r.addr.eq(idx)]
                for j in range(L):
                    m.d.comb += ibank[j][0].addr.eq(idx[lb:] if L > 1 else idx)
                with m.If(idx < N):
                    m.d.sync += [n1_valid.eq(1), n1_n.eq(idx)]
                m.d.sync += idx.eq(idx + 1)
                with m.If(idx == N + 2):   # two more cycles drain the pipeline
                    m.d.sync += [idx.eq(0)]
                    m.next = "ROW_FETCH"
            with m.State("ROW_FETCH"):
                m.d.comb += al_r.addr.eq(idx)
                with m.If(idx == a_count):
                    m.d.sync += idx.eq(0)
                    m.next = "COL_FETCH"
                with m.Else():
                    m.next = "ROW_SETUP"
            with m.State("ROW_SETUP"):
                m.d.sync += cur.eq(al_r.data)
                for j in range(L):
                    m.d.comb += xbank[j][0].addr.eq(al_r.data[lb:] if L > 1 else al_r.data)
                m.d.sync += sub.eq(0)
                m.next = "ROW_LATCH"
            with m.State("ROW_LATCH"):
                xs = Array([xb[0].data for xb in xbank])
                m.d.sync += x_latch.eq(xs[cur[:lb]] if L > 1 else xbank[0][0].data)
                m.next = "ROW_WALK"
            with m.State("ROW_WALK"):
                comb, sync = issue_row(KIND_ROW, cur, sub[:wbits])
                m.d.comb += comb
                m.d.sync += sync
                m.d.sync += [s1_x.eq(x_latch), s1_start.eq(~psp.bit_select(cur, 1))]
                m.d.sync += sub.eq(sub + 1)
                with m.If(sub == NW - 1):
                    m.d.sync += idx.eq(idx + 1)
                    m.next = "ROW_FETCH"

            with m.State("COL_FETCH"):
                m.d.comb += nl_r.addr.eq(idx)
                with m.If(idx == n_count):
                    m.d.sync += [idx.eq(0)]
                    m.next = "AXONS"
                with m.Else():
                    m.d.sync += sub.eq(0)
                    m.next = "COL_SETUP"
            with m.State("COL_SETUP"):
                m.d.sync += cur.eq(nl_r.data)
                m.next = "COL_WALK"
            with m.State("COL_WALK"):
                comb, sync = issue_col(cur[:max(nb, 1)], sub[:max(_log2(AG), 1)])
                m.d.comb += comb
                m.d.sync += sync
                m.d.sync += sub.eq(sub + 1)
                with m.If(sub == AG - 1):
                    m.d.sync += idx.eq(idx + 1)
                    m.next = "COL_FETCH"

            with m.State("AXONS"):
                m.d.comb += ah_r.addr.eq(idx)
                with m.If(idx < A):
                    m.d.sync += [a1_valid.eq(1), a1_a.eq(idx)]
                m.d.sync += idx.eq(idx + 1)
                with m.If(idx == A):
                    m.d.sync += idx.eq(0)
                    m.next = "END_FETCH"

            with m.State("END_FETCH"):
                m.d.comb += el_r.addr.eq(idx)
                with m.If(idx == e_count):
                    m.d.sync += idx.eq(0)
                    with m.If(resync_mode):
                        m.d.sync += [resync_mode.eq(0), dirty.eq(0)]
                        m.next = "STEP"
                    with m.Else():
                        m.next = "STEP_DONE"
                with m.Else():
                    m.d.sync += sub.eq(0)
                    m.next = "END_SETUP"
            with m.State("END_SETUP"):
                m.d.sync += cur.eq(el_r.data)
                m.next = "END_WALK"
            with m.State("END_WALK"):
                comb, sync = issue_row(Mux(resync_mode, KIND_ADD, KIND_END), cur, sub[:wbits])
                m.d.comb += comb
                m.d.sync += sync
                m.d.sync += sub.eq(sub + 1)
                with m.If(sub == NW - 1):
                    m.d.sync += idx.eq(idx + 1)
                    m.next = "END_FETCH"

            with m.State("STEP_DONE"):
                m.d.sync += [
                    step_count.eq(Mux(step_count == 0xFFFFFFFF, step_count, step_count + 1)),
                    steps_left.eq(steps_left - 1),
                ]
                new_phase = Mux(phase_count == 0xFFFF, phase_count, phase_count + 1)
                m.d.sync += phase_count.eq(new_phase)
                with m.If((apply_period != 0) & (new_phase >= apply_period)):
                    m.d.sync += [idx.eq(0), sub.eq(0)]
                    m.next = "APPLY_WALK"
                with m.Elif(steps_left == 1):
                    m.next = "RESPOND_CYCLES"
                with m.Else():
                    m.next = "STEP"

            with m.State("APPLY"):   # host-commanded apply
                m.d.sync += [idx.eq(0), sub.eq(0)]
                m.next = "APPLY_WALK"
            with m.State("APPLY_WALK"):
                a_cur = idx[:max(ab, 1)]
                comb, sync = issue_row(KIND_APPLY, a_cur, sub[:wbits])
                m.d.comb += comb
                m.d.sync += sync
                m.d.sync += s1_psp.eq(psp.bit_select(a_cur, 1))
                m.d.sync += sub.eq(sub + 1)
                with m.If(sub == NW - 1):
                    m.d.sync += [sub.eq(0), idx.eq(idx + 1)]
                    with m.If(idx == A - 1):
                        m.d.sync += [
                            phase_count.eq(0),
                            apply_count.eq(Mux(apply_count == 0xFFFFFFFF, apply_count,
                                               apply_count + 1)),
                        ]
                        m.next = "APPLY_DONE"
            with m.State("APPLY_DONE"):
                with m.If(steps_left == 0):
                    m.next = "RESPOND_CYCLES"
                with m.Else():
                    m.next = "STEP"

            with m.State("RESPOND_CYCLES"):
                m.d.sync += [rsp_data.eq(cycles + 1), count_cycles.eq(0)]
                m.next = "RESPOND"

        return m
