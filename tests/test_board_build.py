"""The open-flow build end to end (Yosys, nextpnr-ecp5, ecppack from YoWASP) on a small chip.

The boards' own configurations do not build usefully yet (docs/boards.md:
the UP5K one does not fit, the ULX3S one is far from its clock and takes
tens of minutes to route), so this checks the flow and its report on the
iCEBreaker's small chip built for the LFE5U-85F, about 90 s: a bitstream,
resources parsed from nextpnr, Fmax per clock and the verdicts computed
from them.
"""

import json
from dataclasses import replace

from sal_hw.boards.build import build_board, summary
from sal_hw.boards.top import BOARDS


def test_small_chip_builds_for_the_ecp5(tmp_path):
    cfg = replace(BOARDS["ulx3s-85f"], params=BOARDS["icebreaker"].params, cores=1, lanes=1,
                  route_entries=64, inject_depth=16, notes="flow check")
    report = build_board("ulx3s-85f", tmp_path, config=cfg)
    assert json.loads((tmp_path / "report.json").read_text()) == report
    assert report["bitstream"] and report["bitstream_bytes"] > 100_000
    res = report["resources"]
    assert 2_000 < res["lut4"]["used"] < res["lut4"]["available"] == 83_640
    assert res["bram_18kbit"]["used"] >= 1 and res["pll"]["used"] == 1
    assert report["fits"]
    (clock, fmax), = report["fmax_mhz"].items()
    assert fmax["constraint"] == 100.0 and fmax["achieved"] > 10
    assert report["meets_timing"] == (fmax["achieved"] >= 100.0)
    assert report["core_fmax_mhz"] == fmax["achieved"]
    text = summary(report)
    assert "fits: yes" in text and f"{fmax['achieved']:.1f} MHz achieved" in text
