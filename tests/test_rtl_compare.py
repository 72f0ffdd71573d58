"""Constant comparisons and saturation (rtl/compare.py), exhaustively on small widths."""

import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from sal_hw.rtl.compare import at_least, at_most, below, in_bounds, saturate


def evaluate(shape, build):
    """{input: output} of the combinational ``build(signal)`` over every input."""
    x = Signal(shape)
    out = build(x)
    y = Signal(out.shape())
    m = Module()
    m.d.comb += y.eq(out)
    lo, hi = (-2 ** (len(x) - 1), 2 ** (len(x) - 1)) if shape.signed else (0, 2 ** len(x))
    table = {}

    async def bench(ctx):
        for v in range(lo, hi):
            ctx.set(x, v)
            table[v] = ctx.get(y)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return table


@pytest.mark.parametrize("width", [1, 3, 6])
def test_unsigned_compares_match_python(width):
    for bound in range(-1, 2 ** width + 2):
        for name, fn, ref in (("at_most", at_most, lambda v: v <= bound),
                              ("below", below, lambda v: v < bound),
                              ("at_least", at_least, lambda v: v >= bound)):
            got = evaluate(unsigned(width), lambda x: fn(x, bound))
            assert got == {v: int(ref(v)) for v in got}, (name, width, bound)


def test_in_bounds_matches_python():
    for lo in range(0, 9):
        for hi in range(lo, 17):
            got = evaluate(unsigned(5), lambda x: in_bounds(x, lo, hi))
            assert got == {v: int(lo <= v <= hi) for v in got}, (lo, hi)


@pytest.mark.parametrize("shape,lo,hi", [
    (signed(7), -8, 7),          # two's complement, bitwise
    (signed(4), -8, 7),          # already in range
    (signed(7), 0, 15),          # unsigned range of a signed value
    (unsigned(6), 0, 7),
    (unsigned(6), 0, 0),
    (signed(7), -5, 9),          # any other range: by comparison
])
def test_saturate_matches_python(shape, lo, hi):
    got = evaluate(shape, lambda x: saturate(x, lo, hi))
    assert got == {v: min(max(v, lo), hi) for v in got}
