"""The plasticity trace: a kernel-weighted sum of a spike history word."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["KernelTrace", "trace_width", "TRACE_LATENCY"]

#: cycles from ``hist`` to ``trace``
TRACE_LATENCY = 3
_GROUP = 4   # terms summed between registers: two adder levels in each stage


def trace_width(history, kernel_bits):
    """Bits of sum_{k=1..H} K[k] * hist[k]: kernel_bits + log2(H + 1), rounded up."""
    return kernel_bits + history.bit_length()


def _tree(terms):
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


class KernelTrace(wiring.Component):
    """``trace = sum_k kernel[k - 1] * hist[k - 1]`` (spec section 3, step 4), three cycles late.

    Bit ``k - 1`` of ``hist`` is the spike ``k`` steps ago.  The masked
    kernel taps are summed in groups of four and the group sums registered,
    twice, then the rest is summed into the output register
    (:data:`TRACE_LATENCY` = 3; with history 128 the last stage adds eight
    terms, three adder levels, otherwise at most four).  Three adder levels
    in one cycle were the one-core ULX3S build's critical path; a 64-tap
    tree in one cycle would be six.
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
        for stage in range(TRACE_LATENCY - 1):
            sums = []
            for i in range(0, len(terms), _GROUP):
                total = _tree(terms[i:i + _GROUP])
                reg = Signal(total.shape(), name=f"stage{stage}_group{i // _GROUP}")
                m.d.sync += reg.eq(total)
                sums.append(reg)
            terms = sums
        m.d.sync += self.trace.eq(_tree(terms))
        return m
