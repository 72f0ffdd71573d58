"""Shared helpers of the amaranth.sim unit tests of the RTL blocks (tests/test_rtl_*.py).

``run(dut, bench)`` simulates ``dut`` with one testbench, clocked unless
``clock=False`` (purely combinational blocks).  With ``SAL_VCD=1`` in the
environment it also writes a waveform to ``out/vcd/<test name>.vcd`` (or to
the directory ``SAL_VCD_DIR`` names).

The access-port helpers drive a unit's :data:`~sal_hw.rtl.access.AccessSignature`
members the way the core does: ``space``/``addr``/``wdata`` with ``we`` for
a write; for a read, the address from one cycle on and ``rdata`` two cycles
later (the units' memory outputs are registered).

``stream(ctx, items, actions)`` drives a pipelined unit the way the core
does, a new item every cycle: each action runs a fixed number of cycles
after its item entered (inputs of later stages, checks of the outputs).
"""

import os
import re
from pathlib import Path

from amaranth.sim import Simulator

__all__ = ["run", "stream", "to_bits", "from_bits", "access_write", "access_read", "sat",
           "usat"]

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


async def send_bytes(ctx, sink, data):
    """Offer ``data`` byte by byte on the byte stream ``sink``, each until it is taken."""
    for byte in data:
        ctx.set(sink.valid, 1)
        ctx.set(sink.payload, byte)
        await ctx.tick().until(sink.ready)
    ctx.set(sink.valid, 0)


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
    """Present ``addr`` (held, as the core holds it); return ``rdata`` two cycles later
    (zero-extended bits)."""
    ctx.set(port.space, int(space))
    ctx.set(port.addr, addr)
    ctx.set(port.we, 0)
    await ctx.tick().repeat(2)
    return ctx.get(port.rdata)


async def stream(ctx, items, actions):
    """Feed ``items`` to a pipeline, one per cycle: item i enters in cycle i.

    ``actions`` is a list of ``(offset, fn)``: ``fn(item, memo)`` runs in
    cycle i + offset for item i, before that cycle's clock edge; within a
    cycle the actions run in list order (list the ones that drive inputs
    before the ones that check outputs).  ``memo`` is a dict of item i's
    own, to carry what an early action computed (an expectation, a
    snapshot) to a later one.  An item ``None`` is a bubble; the cycles
    before the first item and after the last one see bubbles too, until
    the last item's last action ran (so checks of "nothing valid" run in
    every cycle, and the pipeline is drained on return).
    """
    items = list(items)
    depth = max(offset for offset, _ in actions)
    memos = [{} for _ in items]
    for cycle in range(len(items) + depth):
        for offset, fn in actions:
            i = cycle - offset
            inside = 0 <= i < len(items)
            fn(items[i] if inside else None, memos[i] if inside else {})
        await ctx.tick()
