"""Synapse memory: weights, accumulators and rule indices in ``lanes`` skewed banks.

Synapse (a, n) lives in bank ``(a + n) mod L`` at address
``a * (N / L) + n / L``.  A row (axon a, neurons w*L .. w*L + L - 1) and a
column (neuron n, axons g*L .. g*L + L - 1) then both touch every bank
exactly once, so both walks move ``L`` synapses per cycle; a barrel
rotation puts the banks' words in lane order.

Word layout (LSB first), :func:`synapse_layout`: weight (weight_bits,
signed), acc (acc_bits, signed), rule (log2 rules).

Timing (``write_delay`` = D >= 2): present ``mode`` and an address in
cycle c; the banks' words are registered at the end of c + 1 (nothing
touches a block RAM's output but a register) and appear in lane order on
``rd`` in cycle c + 2; ``wr``/``we`` in cycle c + D write back to the same
synapses.  Reads are transparent to writes, so a word written in cycle
c + D can be presented again in that cycle.  A synapse must not be
presented again before its write-back (the walks never do; a host
read-modify-write holds its address for the D cycles).
"""

from enum import IntEnum

from amaranth.hdl import Array, Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .pipeline import delayed

__all__ = ["SynapseMemory", "Walk", "synapse_layout"]


def synapse_layout(p):
    return data.StructLayout({
        "weight": signed(p.weight_bits),
        "acc": signed(p.acc_bits),
        "rule": unsigned(p.rule_bits),
    })


class Walk(IntEnum):
    ROW = 0      # lane j = synapse (a, w * L + j)
    COLUMN = 1   # lane j = synapse (g * L + j, n)
    ONE = 2      # lane 0 = synapse (a, n)


def _log2(x):
    return (x - 1).bit_length()


class SynapseMemory(wiring.Component):
    def __init__(self, params, lanes, write_delay=2):
        p, L = params, lanes
        if write_delay < 2:
            raise ValueError(f"write_delay must be at least 2 (the read latency), not "
                             f"{write_delay}")
        self._p, self._L = p, L
        self.write_delay = write_delay
        self.N, self.A = p.neurons, p.axons
        self.NW, self.AG = self.N // L, self.A // L
        layout = synapse_layout(p)
        self.layout = layout
        super().__init__({
            "mode": In(2),
            "a": In(range(self.A)),
            "n": In(range(self.N)),
            "w": In(range(max(self.NW, 2))),
            "g": In(range(max(self.AG, 2))),
            "rd": Out(data.ArrayLayout(layout, L)),
            "wr": In(data.ArrayLayout(layout, L)),
            "we": In(L),
        })

    def elaborate(self, platform):
        m = Module()
        L = self._L
        NW, AG = self.NW, self.AG
        lb, nwb, agb = _log2(L), _log2(NW), _log2(AG)
        depth, width = self.A * NW, self.layout.size
        # Deeper than 2,048 words, Yosys would build a bank from block RAMs stacked in depth
        # and multiplex their outputs in front of the bank's register; on the ECP5 (5.8 ns
        # from clock to a DP16KD's output) that leaves no room at 100 MHz.  So such a bank is
        # made of bit slices as narrow as one DP16KD is at that depth (4,096 x 4, ...): one
        # block RAM more a bank, no multiplexer.
        slice_bits = width if depth <= 2048 else max(1, 16384 // (1 << _log2(depth)))
        ports = []
        for b in range(L):
            slices = [Memory(shape=min(slice_bits, width - lo), depth=depth, init=[])
                      for lo in range(0, width, slice_bits)]
            for i, mem in enumerate(slices):
                m.submodules[f"bank{b}" if len(slices) == 1 else f"bank{b}_{i}"] = mem
            wps = [mem.write_port() for mem in slices]
            rps = [mem.read_port(transparent_for=(wp,)) for mem, wp in zip(slices, wps)]
            ports.append((rps, wps))

        # Stage 0: per-bank addresses and the rotation, carried to the read and the write.
        D = self.write_delay
        rot = Signal(max(lb, 1))
        addrs = []
        a, n = self.a, self.n
        n_word = n[lb:] if lb else n
        for b in range(L):
            addr = Signal(range(self.A * NW), name=f"addr{b}")
            with m.Switch(self.mode):
                with m.Case(Walk.ROW):
                    m.d.comb += addr.eq(Cat(self.w[:nwb], a) if nwb else a)
                    if lb:
                        m.d.comb += rot.eq(a[:lb])
                with m.Case(Walk.COLUMN):
                    if lb:
                        j = (Const(b, lb) - n[:lb])[:lb]
                        axon = Cat(j, self.g[:agb]) if agb else j
                        m.d.comb += rot.eq(n[:lb])
                    else:
                        axon = self.g[:agb] if agb else Const(0, 1)
                    m.d.comb += addr.eq(Cat(n_word[:nwb], axon) if nwb else axon)
                with m.Default():
                    m.d.comb += addr.eq(Cat(n_word[:nwb], a) if nwb else a)
                    if lb:
                        m.d.comb += rot.eq((a + n)[:lb])
            m.d.comb += [rp.addr.eq(addr) for rp in ports[b][0]]
            addrs.append(addr)
        rd_rot = delayed(m, rot, 2, "rd_rot")
        wr_rot = delayed(m, rd_rot, D - 2, "wr_rot")

        # Stage 1: the banks' words into registers; stage 2: banks to lanes.
        bank_q = [Signal(self.layout, name=f"bank_q{b}") for b in range(L)]
        m.d.sync += [q.eq(Cat(rp.data for rp in rps)) for q, (rps, _) in zip(bank_q, ports)]
        bank_data = Array(bank_q)
        for j in range(L):
            m.d.comb += self.rd[j].eq(bank_data[(rd_rot + j)[:lb]] if lb else bank_q[0])
        # Stage D: lanes back to banks.
        for b in range(L):
            j = (Const(b, lb) - wr_rot)[:lb] if lb else 0
            word = Signal(self.layout, name=f"wr_word{b}")
            wr_addr = delayed(m, addrs[b], D, f"wr_addr{b}")
            m.d.comb += word.eq(Array(self.wr[i] for i in range(L))[j] if lb else self.wr[0])
            for i, wp in enumerate(ports[b][1]):
                lo = i * slice_bits
                m.d.comb += [wp.addr.eq(wr_addr),
                             wp.data.eq(word.as_value()[lo:lo + len(wp.data)]),
                             wp.en.eq(self.we.bit_select(j, 1) if lb else self.we[0])]
        return m
