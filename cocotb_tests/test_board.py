"""pytest runners of the board-top cocotb test (tb_board.py): a board's design over its UART line.

``BoardTop(BOARDS[board], sim=True)`` (boards/top.py: UART at the board's
core clock and baud rate -> FIFO -> SALChip -> UART, and the LEDs; no PLL,
no pins) is converted, built once per simulator and Verilog text (cached
under sim_build/, see build.py ``build_design``) and run on Verilator, and
on Icarus when ``iverilog`` is installed.  One load-run-readback cycle of
a placed recurrent network, every reply compared with the golden emulator.
Without pytest, for replaying a seed:

    python cocotb_tests/test_board.py [--board icebreaker] [--seed 5] [--steps 100]
        [--sim icarus] [--baud-pct 2] [--led-decay]
"""

import argparse
import functools
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if __package__:
    from .build import SimulationFailed, available_simulators, build_design
else:   # run as a script
    sys.path.insert(0, str(HERE.parent))
    from cocotb_tests.build import SimulationFailed, available_simulators, build_design

from sal_hw.boards.top import BOARDS, BoardTop  # noqa: E402

#: (simulator, seed, host baud offset %, wait for the activity LED to go off): Verilator
#: about 5 s a cycle (8 s with the LED's 20 ms), Icarus about 35 s
PLAN = [("verilator", 1, 0, True), ("verilator", 2, 2, False), ("verilator", 3, -2, False),
        ("icarus", 4, 0, False)]


def design_name(board):
    return "sal_board_" + board.replace("-", "_")


@functools.lru_cache(maxsize=None)
def build(board="icebreaker", sim="verilator"):
    """The built simulation of ``BoardTop(BOARDS[board], sim=True)`` (once per process)."""
    cfg = BOARDS[board]
    return build_design(design_name(board), lambda: BoardTop(cfg, sim=True), sim,
                        describe=cfg.describe())


def run_tb(board, seed, sim="verilator", steps=100, baud_pct=0, led_decay=False, fault=0):
    env = {"SAL_BOARD": board, "SAL_SEED": seed, "SAL_STEPS": steps,
           "SAL_BAUD_PCT": baud_pct, "SAL_LED_DECAY": int(led_decay), "SAL_FAULT": fault}
    name = f"board_cycle-{board}-{seed}-{steps}-{baud_pct:+g}"
    if fault:
        name += f"-fault{fault}"
    return build(board, sim).run("board_cycle", name, "tb_board", extra_env=env,
                                 extra_path=HERE)


def _items():
    sims = available_simulators()
    return [pytest.param(sim, seed, pct, decay, id=f"{sim}-baud{pct:+d}pct",
                         marks=[] if sim in sims else
                         [pytest.mark.skip(reason=f"{sim} is not installed")])
            for sim, seed, pct, decay in PLAN]


@pytest.mark.parametrize("sim,seed,baud_pct,led_decay", _items())
def test_icebreaker(sim, seed, baud_pct, led_decay):
    """iCEBreaker (30 MHz, 3 Mbaud): load, run 100 steps, read back, over the UART line."""
    run_tb("icebreaker", seed, sim, 100, baud_pct, led_decay)


@pytest.mark.parametrize("fault,message", [(1, r"ack reply .* != expected"),
                                           (2, r"watchdog: 0 of \d+ reply bytes")],
                         ids=["emulator-changed", "frame-lost"])
def test_testbench_detects_faults(fault, message):
    """Self-test: a golden model changed behind the board's back fails the comparison,
    a frame lost on the line fires the watchdog."""
    with pytest.raises(SimulationFailed, match=message):
        run_tb("icebreaker", 1, "verilator", fault=fault)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", choices=sorted(BOARDS), default="icebreaker")
    ap.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--baud-pct", type=float, default=0,
                    help="the host's baud rate off by this many per cent")
    ap.add_argument("--led-decay", action="store_true",
                    help="also wait for the activity LED to go off (20 ms simulated)")
    args = ap.parse_args(argv)
    log = run_tb(args.board, args.seed, args.sim, args.steps, args.baud_pct, args.led_decay)
    print(f"passed; log: {log}")


if __name__ == "__main__":
    main()
