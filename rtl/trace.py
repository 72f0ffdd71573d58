"""The plasticity trace: a kernel-weighted sum of a spike history word."""

from amaranth.hdl import Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["KernelTrace", "trace_width"]


def trace_width(history, kernel_bits):
    """Bits of sum_{k=1..H} K[k] * hist[k]: kernel_bits + log2(H + 1), rounded up."""
    return kernel_bits + history.bit_length()


class KernelTrace(wiring.Component):
    """Combinational ``trace = sum_k kernel[k - 1] * hist[k - 1]`` (spec section 3, step 4).

    Bit ``k - 1`` of ``hist`` is the spike ``k`` steps ago; a balanced adder
    tree of ``history`` masked kernel taps.
    """

    def __init__(self, history, kernel_bits):
        self._h = history
        super().__init__({
            "hist": In(history),
            "kernel": In(data.ArrayLayout(kernel_bits, history)),
            "trace": Out(trace_width(history, kernel_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        terms = [Mux(self.hist[k], self.kernel[k], 0) for k in range(self._h)]
        while len(terms) > 1:
            terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                     for i in range(0, len(terms), 2)]
        m.d.comb += self.trace.eq(terms[0])
        return m
