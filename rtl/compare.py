"""Comparisons with constants, built from bit tests rather than subtractors.

Yosys maps ``value <= bound`` to a carry chain as wide as ``value`` (on the
iCE40 one logic cell per bit) even when ``bound`` is a constant.  Against a
constant only the bits above the constant's width need testing for zero,
and the compare itself shrinks to the constant's width; saturation to a
two's-complement range needs no compare at all, only whether the bits above
the range are copies of the sign.
"""

from amaranth.hdl import Const, Mux, Value

__all__ = ["at_most", "below", "at_least", "in_bounds", "saturate"]


def at_most(value, bound):
    """Unsigned ``value <= bound`` for a constant ``bound``."""
    value = Value.cast(value)
    if bound < 0:
        return Const(0)
    k = bound.bit_length()
    if len(value) <= k:
        return Const(1) if bound >= 2 ** len(value) - 1 else value <= bound
    high_zero = value[k:] == 0
    if bound == 2 ** k - 1:
        return high_zero
    return high_zero & (value[:k] <= bound)


def below(value, bound):
    """Unsigned ``value < bound`` for a constant ``bound``."""
    return at_most(value, bound - 1)


def at_least(value, bound):
    """Unsigned ``value >= bound`` for a constant ``bound``."""
    return ~below(value, bound)


def in_bounds(value, lo, hi):
    """Unsigned ``lo <= value <= hi`` for constants."""
    return at_least(value, lo) & at_most(value, hi)


def saturate(value, lo, hi):
    """``value`` clamped to ``[lo, hi]`` (constants); ``value`` signed or unsigned.

    A two's-complement range ``[-2**w, 2**w - 1]`` and an unsigned one
    ``[0, 2**w - 1]`` are tested bitwise; any other range by comparison.
    """
    value = Value.cast(value)
    signed, width = value.shape().signed, len(value)
    w = hi.bit_length()
    if signed and lo == -2 ** w and hi == 2 ** w - 1:
        if width <= w + 1:
            return value
        top = value[w:]                  # the sign and the bits above the range
        fits = (top == 0) | (top == 2 ** len(top) - 1)
        return Mux(fits, value[:w + 1].as_signed(), Mux(value[-1], lo, hi))
    if lo == 0 and hi == 2 ** w - 1:
        negative = value[-1] if signed else Const(0)
        over = (value[w:] != 0) if width > w else Const(0)
        return Mux(negative, 0, Mux(over, hi, value[:w]))
    return Mux(value > hi, hi, Mux(value < lo, lo, value))
