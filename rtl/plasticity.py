"""Plasticity and delivery datapath: what each lane does to its synapse in a walk.

Combinational; it sits between the synapse memory's stage-1 read data and
its write-back (see :mod:`.synapse`).  One lane per synapse of the walk:

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
"""

from enum import IntEnum

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden.spaces import rule_word_bits
from .synapse import synapse_layout

__all__ = ["PlasticityUnit", "Work", "SYN_INPUT_BITS", "rule_fields"]

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


def _sat(value, lo, hi):
    return Mux(value > hi, hi, Mux(value < lo, lo, value))


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
        table = Array(self.rules[r] for r in range(p.rules))
        for j in range(L):
            word = self.syn[j]
            new = self.syn_wr[j]
            gc, ga, eta_s, wexp = rule_fields(p, table[word.rule])
            contrib = Signal(signed(SYN_INPUT_BITS), name=f"contrib{j}")
            inc = Signal(signed(p.acc_bits + len(self.x_row) + p.gain_bits + 2), name=f"inc{j}")
            dw = Signal(signed(p.acc_bits), name=f"dw{j}")
            w_new = Signal(signed(p.weight_bits), name=f"w_new{j}")
            isyn = self.isyn[j]
            m.d.comb += [
                new.eq(word),
                contrib.eq(word.weight << wexp),
                dw.eq(word.acc >> eta_s),
                w_new.eq(_sat(word.weight + dw, wlo, whi)),
                self.isyn_wr[j].eq(isyn),
            ]
            with m.Switch(self.work):
                with m.Case(Work.ROW):
                    m.d.comb += [
                        inc.eq(ga * self.y[j] + Mux(self.post_spike[j], gc * self.x_row, 0)),
                        new.acc.eq(_sat(word.acc + inc, alo, ahi)),
                        self.syn_we[j].eq(1),
                        self.isyn_wr[j].eq(isyn + contrib),
                        self.isyn_we[j].eq(self.start),
                    ]
                with m.Case(Work.COLUMN):
                    m.d.comb += [
                        inc.eq(gc * self.x_col[j]),
                        new.acc.eq(_sat(word.acc + inc, alo, ahi)),
                        self.syn_we[j].eq(~self.pre_spike[j]),
                    ]
                with m.Case(Work.END):
                    m.d.comb += [self.isyn_wr[j].eq(isyn - contrib), self.isyn_we[j].eq(1)]
                with m.Case(Work.ADD):
                    m.d.comb += [self.isyn_wr[j].eq(isyn + contrib), self.isyn_we[j].eq(1)]
                with m.Case(Work.APPLY):
                    m.d.comb += [
                        new.weight.eq(w_new),
                        new.acc.eq(word.acc - (dw << eta_s)),
                        self.syn_we[j].eq(1),
                        self.isyn_wr[j].eq(isyn + (w_new << wexp) - contrib),
                        self.isyn_we[j].eq(self.psp),
                    ]
        return m
