"""Pipeline registers: a value carried ``n`` cycles down a pipeline.

Every block-RAM read in the core goes into a register before any logic
uses it (a DP16KD's output without its register is 5.8 ns of a 10 ns
cycle on the ECP5), and the walks' arithmetic is split over several
stages; control travels beside the data in these delay lines.
"""

from amaranth.hdl import Signal

__all__ = ["delayed"]


def delayed(m, value, cycles, name):
    """``value`` as it was ``cycles`` clock cycles ago (``cycles`` = 0: ``value`` itself)."""
    for i in range(cycles):
        reg = Signal(value.shape(), name=f"{name}_d{i + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value
