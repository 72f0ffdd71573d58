"""The open-flow build end to end (Yosys, nextpnr-ecp5, ecppack from YoWASP) for the ULX3S.

Two builds, each to a bitstream, with the resources parsed from nextpnr,
the routed Fmax and the verdicts computed from them:

* **the ULX3S configuration itself** (4 cores of 64 neurons x 256 axons,
  4 lanes, each core's block RAMs pinned to a region of the die) at the
  board's core clock, the clock it meets (about 15 minutes on one core of
  a 2-core machine): it must fit and meet timing, so a change that breaks
  either fails CI;
* **one of those cores** with the same board top (host interface, router,
  UART, PLL) at the 100 MHz target, about 3 minutes: a regression guard
  for the core's pipelining (before it, this core routed at about 33 MHz).
  It meets 100 MHz in most placements (105.6 MHz on 2026-11-25), but a
  change elsewhere moves the placement by a few MHz either way, so the
  floor leaves that margin; ``meets_timing`` reports the 100 MHz verdict
  and docs/boards.md tracks it.
"""

import json
from dataclasses import replace

import pytest

from sal_hw.boards.build import build_board, summary
from sal_hw.boards.top import BOARDS

#: routed Fmax of this build must not fall below this (MHz); measured 93-102 MHz
FMAX_FLOOR_MHZ = 95.0


def test_one_ulx3s_core_builds_for_the_ecp5(tmp_path):
    # router1: router2, which only the 4-core design needs (to converge), routed this one
    # at 74.1 MHz and router1 at 94.7 MHz from the same placement
    cfg = replace(BOARDS["ulx3s-85f"], cores=1, router="router1", f_core=100e6,
                  notes="one core of the ULX3S configuration")
    report = build_board("ulx3s-85f", tmp_path, config=cfg)
    assert json.loads((tmp_path / "report.json").read_text()) == report
    assert report["bitstream"] and report["bitstream_bytes"] > 100_000
    assert (report["cores"], report["neurons"], report["axons"], report["lanes"]) == (1, 64, 256, 4)
    res = report["resources"]
    assert 5_000 < res["lut4"]["used"] < res["lut4"]["available"] == 83_640
    assert res["bram_18kbit"]["used"] >= 8 and res["pll"]["used"] == 1
    assert report["fits"]
    (clock, fmax), = report["fmax_mhz"].items()
    assert fmax["constraint"] == 100.0
    assert fmax["achieved"] >= FMAX_FLOOR_MHZ, summary(report)
    assert report["meets_timing"] == (fmax["achieved"] >= 100.0)
    assert report["core_fmax_mhz"] == fmax["achieved"]
    text = summary(report)
    print(text)   # pytest -s shows the build's one-screen summary
    assert "fits: yes" in text and f"{fmax['achieved']:.1f} MHz achieved" in text


def test_the_ulx3s_chip_fits_and_meets_its_clock(tmp_path):
    """``sal-hw build --board ulx3s-85f`` as a user runs it: the whole 4-core chip."""
    cfg = BOARDS["ulx3s-85f"]
    report = build_board("ulx3s-85f", tmp_path)
    text = summary(report)
    print(text)
    assert (report["cores"], report["neurons"], report["axons"], report["lanes"]) == (4, 64, 256, 4)
    assert report["bitstream"] and report["bitstream_bytes"] > 100_000
    res = report["resources"]
    assert res["lut4"]["used"] > 4 * 5_000 and res["bram_18kbit"]["used"] >= 4 * 28
    # every block RAM pinned to its core's region (boards/floorplan.py)
    assert report["floorplan"] == f"{res['bram_18kbit']['used']} block RAMs pinned, one region per core"
    (clock, fmax), = report["fmax_mhz"].items()
    assert fmax["constraint"] == pytest.approx(cfg.f_core / 1e6, abs=0.01)
    assert report["fits"], text
    assert report["meets_timing"] and fmax["achieved"] >= fmax["constraint"], text
