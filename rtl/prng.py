"""xorshift32, the per-neuron firing PRNG of docs/spec.md section 3 (shifts 13, 17, 5)."""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Xorshift32"]


class Xorshift32(wiring.Component):
    """Combinational: ``next`` is ``state`` advanced by one xorshift32 step.

    Only XORs and wiring: about 32 LUTs per generator.
    """

    state: In(32)
    next: Out(32)

    def elaborate(self, platform):
        from amaranth.hdl import Module
        m = Module()
        x1 = self.state ^ (self.state << 13)[:32]
        x2 = x1 ^ (x1 >> 17)
        m.d.comb += self.next.eq(x2 ^ (x2 << 5)[:32])
        return m
