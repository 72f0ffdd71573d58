"""Per-neuron or per-axon values in ``lanes`` banks: one entry at a time, or a lane-wide word.

Entry i lives in bank ``i mod L`` at address ``i / L``, so the entries of
word w (i = w*L .. w*L + L - 1) are one per bank.  Used for the synaptic
inputs (read one per neuron, updated a word per cycle by row walks) and
for the pre and post traces (written one per cycle, read a word per cycle).

Timing: an address presented in cycle c gives data in cycle c + 2 (the
banks' outputs go into registers first; reads are transparent to writes
unless built with ``transparent=False``); writes take effect at the end of
the cycle.
"""

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .pipeline import delayed

__all__ = ["LaneBanks"]


def _log2(x):
    return (x - 1).bit_length()


class LaneBanks(wiring.Component):
    """``depth`` entries of ``shape`` in ``lanes`` banks.

    Members: ``sel_one`` chooses which read address the banks see: the
    entry ``one_addr`` (data on ``one_rd``) or the word ``word`` (data on
    ``lanes_rd``).  ``one_we`` writes ``one_wdata`` to entry ``one_waddr``;
    ``lanes_we`` writes ``lanes_wr`` to word ``lanes_waddr`` lane by lane.
    """

    def __init__(self, shape, depth, lanes, transparent=True):
        self._shape, self._depth, self._L = shape, depth, lanes
        self._transparent = transparent
        words = depth // lanes
        super().__init__({
            "sel_one": In(1),
            "one_addr": In(range(depth)),
            "one_rd": Out(shape),
            "one_waddr": In(range(depth)),
            "one_wdata": In(shape),
            "one_we": In(1),
            "word": In(range(max(words, 2))),
            "lanes_rd": Out(data.ArrayLayout(shape, lanes)),
            "lanes_waddr": In(range(max(words, 2))),
            "lanes_wr": In(data.ArrayLayout(shape, lanes)),
            "lanes_we": In(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        L = self._L
        lb = _log2(L)
        words = self._depth // L
        one_bank = self.one_addr[:lb] if lb else 0
        one_word = self.one_addr[lb:] if lb else self.one_addr
        w_bank = self.one_waddr[:lb] if lb else 0
        w_word = self.one_waddr[lb:] if lb else self.one_waddr
        rd_bank = delayed(m, one_bank, 2, "rd_bank") if lb else 0
        rds = []
        for b in range(L):
            mem = Memory(shape=self._shape, depth=words, init=[])
            m.submodules[f"bank{b}"] = mem
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,) if self._transparent else ())
            q = Signal(self._shape, name=f"q{b}")
            m.d.sync += q.eq(rp.data)
            rds.append(q)
            m.d.comb += [
                rp.addr.eq(Mux(self.sel_one, one_word, self.word)),
                self.lanes_rd[b].eq(q),
            ]
            hit = (w_bank == b) if lb else 1
            with m.If(self.one_we & hit):
                m.d.comb += [wp.addr.eq(w_word), wp.data.eq(self.one_wdata), wp.en.eq(1)]
            with m.Else():
                m.d.comb += [wp.addr.eq(self.lanes_waddr), wp.data.eq(self.lanes_wr[b]),
                             wp.en.eq(self.lanes_we[b])]
        m.d.comb += self.one_rd.eq(Array(rds)[rd_bank] if lb else rds[0])
        return m
