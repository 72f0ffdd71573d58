# amaranth: UnusedElaboratable=no
"""Board tops without the tools: PLL settings, the prepared build (RTLIL, pin constraints).

The bitstream builds themselves (`sal-hw build`, minutes each) are recorded
in docs/boards.md; here everything short of running Yosys and nextpnr.
"""

import pytest

from sal_hw.boards.pll import ecp5_pll, ice40_pll
from sal_hw.boards.top import BOARDS, BoardTop
from sal_hw.rtl.uart import uart_divisor


@pytest.mark.parametrize("f_out", [24e6, 30e6, 36e6, 48e6])
def test_ice40_pll_within_the_rules(f_out):
    s = ice40_pll(12e6, f_out)
    p = s.params
    pfd = 12e6 / (p["DIVR"] + 1)
    vco = pfd * (p["DIVF"] + 1)
    assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6 and 1 <= p["DIVQ"] <= 6
    assert s.f_out == vco / 2 ** p["DIVQ"]
    assert abs(s.f_out - f_out) / f_out < 0.01


@pytest.mark.parametrize("f_out", [50e6, 75e6, 100e6, 125e6])
def test_ecp5_pll_within_the_rules(f_out):
    s = ecp5_pll(25e6, f_out)
    p = s.params
    assert 400e6 <= s.f_out * p["CLKOP_DIV"] <= 800e6
    assert s.f_out == 25e6 * p["CLKFB_DIV"] / p["CLKI_DIV"]
    assert p["CLKOP_CPHASE"] == p["CLKOP_DIV"] - 1
    assert abs(s.f_out - f_out) / f_out < 0.01


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_configuration_is_consistent(board):
    cfg = BOARDS[board]
    f_core = (ice40_pll if cfg.family == "ice40" else ecp5_pll)(cfg.f_osc, cfg.f_core).f_out
    assert f_core == pytest.approx(cfg.f_core, rel=1e-6)
    divisor, error = uart_divisor(f_core, cfg.baud)
    assert divisor >= 4 and abs(error) <= 0.02
    d = cfg.describe()
    assert d["synapses_per_core"] == cfg.params.neurons * cfg.params.axons


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_top_prepares(board, tmp_path):
    cfg = BOARDS[board]
    platform = cfg.make_platform()
    plan = platform.prepare(BoardTop(cfg), name="top")
    files = plan.files
    assert "top.il" in files and "SALChip" not in files["top.il"][:0]
    constraints = files.get("top.pcf") or files.get("top.lpf")
    assert constraints, sorted(files)
    text = constraints if isinstance(constraints, str) else constraints.decode()
    assert "uart" in text.lower()
    il = files["top.il"]
    il = il if isinstance(il, str) else il.decode()
    assert ("SB_PLL40_PAD" if cfg.family == "ice40" else "EHXPLLL") in il


def test_unknown_board_is_refused(capsys):
    from sal_hw.cli import main
    with pytest.raises(SystemExit):
        main(["build", "--board", "de10-nano"])
    assert "invalid choice: 'de10-nano'" in capsys.readouterr().err


# nextpnr-ice40's utilization table when the design is too big (the iCEBreaker build, 2026-11-24)
_OVERFULL_LOG = """Info: Device utilisation:
Info: \t         ICESTORM_LC:    9373/   5280   177%
Info: \t        ICESTORM_RAM:      37/     30   123%
Info: \t               SB_IO:       6/     39    15%
Info: \t               SB_GB:       8/      8   100%
"""


def test_overused_resources_are_named():
    from sal_hw.boards.build import overused
    assert overused(_OVERFULL_LOG) == [("ICESTORM_LC", 9373, 5280), ("ICESTORM_RAM", 37, 30)]
    assert overused(_OVERFULL_LOG.replace("9373", "5280").replace("37/", "30/")) == []


def _amaranth_script(name):
    """The two tool lines of Amaranth's ECP5 build script that the floorplan step goes between."""
    return (f'"$YOSYS" -q -l {name}.rpt {name}.ys\n"$NEXTPNR_ECP5" --quiet --85k '
            f'--package CABGA381 --speed 6 --json {name}.json --lpf {name}.lpf\n')


def _tools_stop(monkeypatch, tmp_path, log_suffix, log_text, returncode):
    """Amaranth's build stands in for the tools: its plan's script writes ``log_text`` to the
    build's ``<name><log_suffix>`` and fails.  Returns the keyword arguments the build was
    given and, as "script", the script the plan ran."""
    import subprocess

    from amaranth.build.plat import Platform
    seen = {}

    class Plan:
        def __init__(self, name):
            self.script = f"build_{name}"
            self.files = {f"{self.script}.sh": _amaranth_script(name)}
            self.name = name

        def execute_local(self, root):
            seen["script"] = self.files[f"{self.script}.sh"]
            (tmp_path / f"{self.name}{log_suffix}").write_text(log_text)
            raise subprocess.CalledProcessError(returncode, ["sh", f"{self.script}.sh"])

    def prepare(self, top, name, build_dir, **kwargs):
        seen.update(kwargs)
        return Plan(name)

    monkeypatch.setattr(Platform, "build", prepare)
    return seen


@pytest.mark.filterwarnings("ignore:.*created but never used")   # the stand-in never elaborates
def test_a_build_that_does_not_fit_is_a_clear_error(monkeypatch, capsys, tmp_path):
    """The tools stopping (nextpnr refuses an over-full design) is an error message and exit 1."""
    from sal_hw.cli import main

    _tools_stop(monkeypatch, tmp_path, ".tim", _OVERFULL_LOG, 125)
    assert main(["build", "--board", "icebreaker", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "does not fit the part: ICESTORM_LC 9,373 of 5,280, ICESTORM_RAM 37 of 30" in err
    assert "Traceback" not in err and not (tmp_path / "report.json").exists()


# Yosys's ``check`` after synthesis (the 4-core ULX3S chip before the alias names were
# hidden, 2026-11-25)
_BAD_NETLIST_LOG = """2.52. Executing CHECK pass (checking for obvious problems).
Checking module s...
Warning: multiple conflicting drivers for s.\\chip.core1.lanes_rd$22 [3]:
    port Q[0] of cell chip.core1.lanes_rd$22_TRELLIS_FF_Q_6 (TRELLIS_FF)
    port Q[0] of cell chip.core1.lanes_rd$22_TRELLIS_FF_Q (TRELLIS_FF)
Found and reported 1 problems.
ERROR: Found 1 problems in 'check -assert'.
"""


@pytest.mark.filterwarnings("ignore:.*created but never used")   # the stand-in never elaborates
def test_a_netlist_that_yosys_got_wrong_is_a_clear_error(monkeypatch, capsys, tmp_path):
    """``check -assert`` after synthesis stops the build with the problem named, no report."""
    from sal_hw.boards.build import YOSYS_AFTER_READ, netlist_problems
    from sal_hw.cli import main

    assert netlist_problems(_BAD_NETLIST_LOG) == [
        "multiple conflicting drivers for s.\\chip.core1.lanes_rd$22 [3]:"]
    assert netlist_problems(_BAD_NETLIST_LOG.replace("Warning: multiple", "Info: one")) == []
    # a warning outside a check pass is not a netlist problem
    assert netlist_problems("Warning: Replacing memory with list of registers.\n") == []
    seen = _tools_stop(monkeypatch, tmp_path, ".rpt", _BAD_NETLIST_LOG, 1)
    assert main(["build", "--board", "ulx3s-85f", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Yosys's netlist check failed (1 problem, first: multiple conflicting drivers" in err
    assert seen["script_after_synth"] == "check -assert"
    assert seen["script_after_read"] == YOSYS_AFTER_READ
    assert seen["do_build"] is False
    # the 4-core ULX3S chip: the floorplan between Yosys and nextpnr, on the device's sites
    yosys, floorplan, nextpnr = seen["script"].splitlines()
    assert yosys.startswith('"$YOSYS"') and nextpnr.startswith('"$NEXTPNR_ECP5"')
    assert "-m sal_hw.boards.floorplan sal_ulx3s_85f.json --ebr 208 " in floorplan
    assert floorplan.endswith("-- --85k --package CABGA381 --speed 6")
    assert "Traceback" not in err and not (tmp_path / "report.json").exists()


def _grid(rows=(10, 20, 30, 40), columns=12):
    """Block-RAM sites of a made-up device: ``rows`` of ``columns`` sites, x = 2, 4, ..."""
    return [(2 * (i + 1), y, f"X{2 * (i + 1)}/Y{y}/EBR{i % 4}") for y in rows
            for i in range(columns)]


def test_floorplan_gives_each_core_a_region():
    """Core k's block RAMs in region k (rows 2k//4.., one half), synapses from the die's edge,
    the chip's other block RAMs by the middle, no site twice."""
    from sal_hw.boards.floorplan import assign
    sites = _grid()
    core_cells = {k: [f"chip.core{k}.synapses.bank{b}_{i}.0.0" for b in range(2) for i in range(3)]
                  + [f"chip.core{k}.xtrace.bank{b}.0.0" for b in range(3)] for k in range(4)}
    others = ["chip.host.frame.0.0", "chip.router.route_dest.0.0"]
    plan = assign([c for cells in core_cells.values() for c in cells] + others, sites)
    assert len(plan) == 4 * 9 + 2 and len(set(plan.values())) == len(plan)
    where = {bel: (x, y) for x, y, bel in sites}
    for k, cells in core_cells.items():
        xs, ys = zip(*(where[plan[c]] for c in cells))
        assert set(ys) == ({10, 20} if k < 2 else {30, 40})
        assert all(x <= 12 for x in xs) if k % 2 == 0 else all(x >= 14 for x in xs)
        # 9 block RAMs: 5 in the first row from the die's edge, the synapse banks first
        assert sorted(ys).count(ys[0]) == 5 and ys[0] == min(ys)
        assert where[plan[f"chip.core{k}.synapses.bank0_0.0.0"]] == \
            ((2, 10), (24, 10), (2, 30), (24, 30))[k]
    # the others take the free sites nearest the middle (x 13, y 25)
    assert {where[plan[c]][1] for c in others} <= {20, 30}
    assert all(8 <= where[plan[c]][0] <= 18 for c in others)


def test_floorplan_refuses_what_does_not_fit():
    from sal_hw.boards.floorplan import FloorplanError, assign
    with pytest.raises(FloorplanError, match="5 cores, but the device's 4 block-RAM rows make "
                                             "only 4 regions"):
        assign([f"chip.core{k}.lut.0.0" for k in range(5)], _grid())
    with pytest.raises(FloorplanError, match="a core has 13 block RAMs, but a region holds 12"):
        assign([f"chip.core0.m{i}" for i in range(13)], _grid())


def test_ecp5_85f_block_ram_sites():
    """The probe places one DP16KD on every site of the LFE5U-85F: four rows of 52."""
    from collections import Counter

    from sal_hw.boards.build import _tool_env
    from sal_hw.boards.floorplan import ebr_sites
    env = _tool_env()
    sites = ebr_sites(["--85k", "--package", "CABGA381", "--speed", "6"], 208,
                      env["YOSYS"], env["NEXTPNR_ECP5"])
    assert len({bel for _, _, bel in sites}) == 208
    assert Counter(y for _, y, _ in sites) == {22: 52, 46: 52, 70: 52, 82: 52}


def test_floorplan_step_needs_the_device_options():
    from sal_hw.boards.build import BuildError, _with_floorplan
    assert "--ebr 208 --plan floorplan.json" in _with_floorplan(_amaranth_script("s"), "s",
                                                                208).splitlines()[1]
    for broken in ('"$YOSYS" -q s.ys\n', '"$NEXTPNR_ECP5" --quiet --json s.json\n'):
        with pytest.raises(BuildError, match="needs nextpnr-ecp5's line with the device's options"):
            _with_floorplan(broken, "s", 208)
