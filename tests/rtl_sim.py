"""Shared helpers of the amaranth.sim unit tests of the RTL blocks (tests/test_rtl_*.py).

``run(dut, bench)`` simulates ``dut`` with one testbench, clocked unless
``clock=False`` (purely combinational blocks).  With ``SAL_VCD=1`` in the
environment it also writes a waveform to ``out/vcd/<test name>.vcd`` (or to
the directory ``SAL_VCD_DIR`` names).

The access-port helpers drive a unit's :data:`~sal_hw.rtl.access.AccessSignature`
members the way the core does: ``space``/``addr``/``wdata`` with ``we`` for
a write; for a read, the address in one cycle and ``rdata`` in the next.
"""

import os
import re
from pathlib import Path

from amaranth.sim import Simulator

__all__ = ["run", "to_bits", "from_bits", "access_write", "access_read", "sat", "usat"]

_REPO = Path(__file__).resolve().parent.parent


def _vcd_path():
    test = os.environ.get("PYTEST_CURRENT_TEST", "rtl_sim").split(" ")[0]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test.split("::", 1)[-1]).strip("_") or "rtl_sim"
    folder = Path(os.environ.get("SAL_VCD_DIR", _REPO / "out" / "vcd"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.vcd"


def run(dut, bench, *, clock=True):
    """Simulate ``dut`` with the async testbench ``bench(ctx)`` until it returns."""
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    if os.environ.get("SAL_VCD", "") not in ("", "0"):
        with sim.write_vcd(str(_vcd_path())):
            sim.run()
    else:
        sim.run()


def to_bits(value, bits):
    """``value`` as the ``bits``-bit two's-complement word the hardware carries."""
    return value & ((1 << bits) - 1)


def from_bits(word, bits):
    """Sign-extend a ``bits``-bit word."""
    word &= (1 << bits) - 1
    return word - (1 << bits) if word >> (bits - 1) else word


def sat(x, bits):
    """sat_b(x) of docs/spec.md: clip to a ``bits``-bit two's-complement integer."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return min(max(x, lo), hi)


def usat(x, bits):
    return min(max(x, 0), (1 << bits) - 1)


async def access_write(ctx, port, space, addr, word):
    """One write cycle on an access port (``word`` already in the space's bits)."""
    ctx.set(port.space, int(space))
    ctx.set(port.addr, addr)
    ctx.set(port.wdata, word)
    ctx.set(port.we, 1)
    await ctx.tick()
    ctx.set(port.we, 0)


async def access_read(ctx, port, space, addr):
    """Present ``addr`` for one cycle; return ``rdata`` of the next (zero-extended bits)."""
    ctx.set(port.space, int(space))
    ctx.set(port.addr, addr)
    ctx.set(port.we, 0)
    await ctx.tick()
    return ctx.get(port.rdata)
