"""Pipeline registers: a value carried ``n`` cycles down a pipeline.

Every block-RAM read in the core goes into a register before any logic
uses it (a DP16KD's output without its register is 5.8 ns of a 10 ns
cycle on the ECP5), and the walks' arithmetic is split over several
stages; control travels beside the data in these delay lines.
"""

from amaranth.hdl import Signal

__all__ = ["delayed", "selected_bit"]


def delayed(m, value, cycles, name):
    """``value`` as it was ``cycles`` clock cycles ago (``cycles`` = 0: ``value`` itself)."""
    for i in range(cycles):
        reg = Signal(value.shape(), name=f"{name}_d{i + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def selected_bit(m, vector, index, name, group=16):
    """``vector[index]`` two cycles later, selected in two register stages.

    A bit of a 256-bit vector is a four-level multiplexer: too much for one
    cycle at 100 MHz once routed.  Stage 1 registers the ``group`` bits around
    the index, stage 2 the bit; ``vector`` and ``index`` are sampled together.
    """
    if len(vector) <= group:
        return delayed(m, vector.bit_select(index, 1), 2, name)
    gbits = (group - 1).bit_length()
    word = Signal(group, name=f"{name}_group")
    m.d.sync += word.eq(vector.word_select(index[gbits:], group))
    bit = Signal(name=name)
    m.d.sync += bit.eq(word.bit_select(delayed(m, index[:gbits], 1, f"{name}_index"), 1))
    return bit
