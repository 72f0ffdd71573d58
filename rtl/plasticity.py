"""Plasticity and delivery datapath: what each lane does to its synapse in a walk.

A pipeline of :data:`PLASTICITY_STAGES` register stages between the
synapse memory's read data and its write-back (see :mod:`.synapse`): the
inputs of cycle c come out as ``syn_wr``/``isyn_wr`` in cycle
c + PLASTICITY_STAGES.  One lane per synapse of the walk:

=======  ================================================================
Work     per lane (synapse a -> n, rule r), spec sections 3 and 4
=======  ================================================================
ROW      acc <- sat(acc + c_anticausal(r) Y_n + [s_n] c_causal(r) X_a);
         if the axon's PSP starts: I_n += w << w_exp(r)
COLUMN   unless axon a spiked (done by its row): acc <- sat(acc + c_causal(r) X_a)
END      I_n -= w << w_exp(r)                       (a PSP ends)
ADD      I_n += w << w_exp(r)                       (resync: an active PSP)
APPLY    dw = acc >> eta_s(r); acc <- acc - (dw << eta_s(r));
         w <- sat(w + dw); if the PSP is active: I_n += (w_new - w) << w_exp(r)
=======  ================================================================

Stages (each at most one carry chain or one multiplier):

1. the rule-table lookup; the trace that applies (x_row, x_col);
2. the products c_anticausal Y_n and c_causal X_a; w << w_exp; acc >> eta_s
   and the remainder acc - (dw << eta_s), which is acc's low eta_s bits;
3. the sum of the products; w + dw; I_n + (w << w_exp) and I_n - (w << w_exp);
4. acc + inc saturated; the new weight saturated; the synaptic input of
   ROW, END and ADD;
5. APPLY's synaptic input I_n - (w << w_exp) + (w_new << w_exp).
"""

from enum import IntEnum

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden.spaces import rule_word_bits
from .compare import saturate
from .pipeline import delayed
from .synapse import synapse_layout

__all__ = ["PlasticityUnit", "Work", "SYN_INPUT_BITS", "PLASTICITY_STAGES", "rule_fields"]

PLASTICITY_STAGES = 5

#: synaptic-input sum: A * 2**7 * 2**7 < 2**27 for A <= 4096 (spec section 2)
SYN_INPUT_BITS = 28


class Work(IntEnum):
    NONE = 0
    ROW = 1
    COLUMN = 2
    END = 3
    APPLY = 4
    ADD = 5


def rule_fields(p, word):
    """(c_causal, c_anticausal, eta_s, w_exp) of a packed rule word (golden/spaces.py)."""
    g = p.gain_bits
    return (word[0:g].as_signed(), word[g:2 * g].as_signed(), word[2 * g:2 * g + 5],
            word[2 * g + 5:2 * g + 8])


class PlasticityUnit(wiring.Component):
    """``lanes`` copies of the per-synapse update, with the rule-table lookup.

    Members: ``work`` (:class:`Work`), ``syn`` (lane words read), ``rules``
    (the rule table), ``y`` (post trace per lane, rows), ``x_row`` (pre
    trace of the row's axon), ``x_col`` (pre trace per lane, columns),
    ``post_spike`` (s_n per lane, rows), ``pre_spike`` (s_a per lane,
    columns), ``start`` (row: the PSP starts), ``psp`` (apply: the PSP is
    active), ``isyn`` (synaptic input per lane).  Out: ``syn_wr``/``syn_we``
    and ``isyn_wr``/``isyn_we``.
    """

    def __init__(self, params, lanes, trace_bits):
        p, L = params, lanes
        self._p, self._L = p, L
        layout = synapse_layout(p)
        isyn = signed(SYN_INPUT_BITS)
        super().__init__({
            "work": In(3),
            "syn": In(data.ArrayLayout(layout, L)),
            "rules": In(data.ArrayLayout(rule_word_bits(p), p.rules)),
            "y": In(data.ArrayLayout(trace_bits, L)),
            "x_row": In(trace_bits),
            "x_col": In(data.ArrayLayout(trace_bits, L)),
            "post_spike": In(L),
            "pre_spike": In(L),
            "start": In(1),
            "psp": In(1),
            "isyn": In(data.ArrayLayout(isyn, L)),
            "syn_wr": Out(data.ArrayLayout(layout, L)),
            "syn_we": Out(L),
            "isyn_wr": Out(data.ArrayLayout(isyn, L)),
            "isyn_we": Out(L),
        })

    def elaborate(self, platform):
        m = Module()
        p, L = self._p, self._L
        wlo, whi = p.weight_range
        alo, ahi = p.acc_range
        isyn_shape = signed(SYN_INPUT_BITS)
        table = Array(self.rules[r] for r in range(p.rules))

        def stage(i, name, value):
            """``value`` registered as the input of stage ``i + 1``."""
            return delayed(m, value, 1, f"p{i}_{name}")

        # control, stage by stage
        work = [self.work]
        for i in range(1, PLASTICITY_STAGES + 1):
            work.append(stage(i, "work", work[-1]))
        start = stage(1, "start", self.start)
        psp = stage(1, "psp", self.psp)
        for i in range(2, 4):
            start, psp = stage(i, "start", start), stage(i, "psp", psp)

        for j in range(L):
            # 1: rule lookup, the traces that apply
            word = stage(1, f"word{j}", self.syn[j])
            gc, ga, eta_s, wexp = (stage(1, f"{f}{j}", v) for f, v in
                                   zip(("gc", "ga", "eta", "wexp"),
                                       rule_fields(p, table[self.syn[j].rule])))
            y = stage(1, f"y{j}", Mux(self.work == Work.ROW, self.y[j], 0))
            causal = (self.work == Work.COLUMN) | ((self.work == Work.ROW) & self.post_spike[j])
            x = stage(1, f"x{j}", Mux(causal, Mux(self.work == Work.ROW, self.x_row,
                                                  self.x_col[j]), 0))
            pre = stage(1, f"pre{j}", self.pre_spike[j])
            isyn = stage(1, f"isyn{j}", self.isyn[j])

            # 2: products, shifts
            prod_a = stage(2, f"prod_a{j}", ga * y)
            prod_c = stage(2, f"prod_c{j}", gc * x)
            contrib = stage(2, f"contrib{j}", word.weight << wexp)
            dw = stage(2, f"dw{j}", word.acc >> eta_s)
            rest = stage(2, f"rest{j}", word.acc.as_unsigned() & ((Const(1, p.acc_bits + 1) << eta_s) - 1)[:p.acc_bits])
            word2, wexp2, isyn2, pre2 = (stage(2, f"{f}{j}", v) for f, v in
                                         (("word", word), ("wexp", wexp), ("isyn", isyn),
                                          ("pre", pre)))

            # 3: sums
            inc = stage(3, f"inc{j}", prod_a + prod_c)
            w_sum = stage(3, f"w_sum{j}", word2.weight + dw)
            isyn_plus = stage(3, f"isyn_plus{j}", isyn2 + contrib)
            isyn_minus = stage(3, f"isyn_minus{j}", isyn2 - contrib)
            word3, wexp3, rest3, pre3 = (stage(3, f"{f}{j}", v) for f, v in
                                         (("word", word2), ("wexp", wexp2), ("rest", rest),
                                          ("pre", pre2)))

            # 4: saturation, the write enables
            new = Signal(self.syn[j].shape(), name=f"new{j}")
            isyn4 = Signal(isyn_shape, name=f"isyn4_{j}")
            syn_we = Signal(name=f"syn_we{j}")
            isyn_we = Signal(name=f"isyn_we{j}")
            m.d.sync += [new.eq(word3), isyn4.eq(isyn_plus), syn_we.eq(0), isyn_we.eq(0)]
            with m.Switch(work[3]):
                with m.Case(Work.ROW):
                    m.d.sync += [new.acc.eq(saturate(word3.acc + inc, alo, ahi)), syn_we.eq(1),
                                 isyn_we.eq(start)]
                with m.Case(Work.COLUMN):
                    m.d.sync += [new.acc.eq(saturate(word3.acc + inc, alo, ahi)), syn_we.eq(~pre3)]
                with m.Case(Work.END):
                    m.d.sync += [isyn4.eq(isyn_minus), isyn_we.eq(1)]
                with m.Case(Work.ADD):
                    m.d.sync += isyn_we.eq(1)
                with m.Case(Work.APPLY):
                    m.d.sync += [new.weight.eq(saturate(w_sum, wlo, whi)), new.acc.eq(rest3),
                                 syn_we.eq(1), isyn4.eq(isyn_minus), isyn_we.eq(psp)]
            wexp4 = stage(4, f"wexp{j}", wexp3)

            # 5: APPLY's synaptic input
            m.d.sync += [self.syn_wr[j].eq(new), self.syn_we[j].eq(syn_we),
                         self.isyn_we[j].eq(isyn_we),
                         self.isyn_wr[j].eq(Mux(work[4] == Work.APPLY, isyn4 + (new.weight << wexp4),
                                                isyn4))]
        return m
