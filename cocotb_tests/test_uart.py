"""pytest runners of the UART PHY's cocotb loopback test at 3 Mbaud (tb_uart.py).

``UART(clk_freq=48e6, baud=3e6)`` (divisor 16) inside :class:`UARTLoopback`
is converted, built once per simulator and Verilog text (cached under
sim_build/, see build.py ``build_design``) and run on Verilator, and on Icarus
when ``iverilog`` is installed.  Without pytest:

    python cocotb_tests/test_uart.py [--sim icarus] [--seed 5] [--bytes 1000] [--offset 2]
"""

import argparse
import sys
from pathlib import Path

import pytest
from amaranth.hdl import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

HERE = Path(__file__).resolve().parent
if __package__:
    from .build import available_simulators, build_design
else:   # run as a script
    sys.path.insert(0, str(HERE.parent))
    from cocotb_tests.build import available_simulators, build_design

from sal_hw.rtl.uart import UART  # noqa: E402

CLK_FREQ = 48e6
BAUD = 3e6
FIFO_DEPTH = 16


class UARTLoopback(wiring.Component):
    """``UART(clk_freq, baud)`` echoing every byte it receives, through a FIFO.

    Ports: ``rx`` (In 1), ``tx`` (Out 1), ``framing_errors`` and ``overruns``
    (Out 16, the receiver's counters).
    """

    rx:             In(1, init=1)
    tx:             Out(1, init=1)
    framing_errors: Out(16)
    overruns:       Out(16)

    def __init__(self, clk_freq=CLK_FREQ, baud=BAUD, depth=FIFO_DEPTH):
        self._uart = UART(clk_freq, baud)
        self._depth = depth
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart = uart = self._uart
        m.submodules.fifo = buf = fifo.SyncFIFOBuffered(width=8, depth=self._depth)
        wiring.connect(m, uart.rx_data, buf.w_stream)
        wiring.connect(m, buf.r_stream, uart.tx_data)
        m.d.comb += [
            uart.rx.eq(self.rx),
            self.tx.eq(uart.tx),
            self.framing_errors.eq(uart.framing_errors),
            self.overruns.eq(uart.overruns),
        ]
        return m


def build(sim):
    return build_design("uart_loopback", UARTLoopback, sim,
                        describe={"clk_freq": CLK_FREQ, "baud": BAUD, "fifo_depth": FIFO_DEPTH})


#: the host's baud rate off by this many per cent (tb_uart.loopback's offset_pct)
OFFSETS_PCT = (0, 2, -2)
#: good bytes per run (about 110 frames of 3.3 us on the line per 100 bytes, bad ones
#: and a break included) and the seed base, per simulator: each sees other traffic
PLAN = {"verilator": (1000, 1), "icarus": (400, 2)}


def _items():
    sims = available_simulators()
    return [pytest.param(sim, pct, marks=[] if sim in sims else
                         [pytest.mark.skip(reason=f"{sim} not installed")],
                         id=f"{sim}-baud{pct:+d}pct")
            for sim in ("verilator", "icarus") for pct in OFFSETS_PCT]


@pytest.mark.parametrize("sim,offset_pct", _items())
def test_loopback(sim, offset_pct):
    """Random bytes with framing errors and a break in between, echoed at 3 Mbaud."""
    n_bytes, seed = PLAN[sim]
    build(sim).run(f"loopback/offset_pct={offset_pct}", f"loopback{offset_pct:+d}", "tb_uart",
                   extra_env={"SAL_SEED": seed, "SAL_BYTES": n_bytes})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bytes", type=int, default=1000, help="good bytes per run")
    ap.add_argument("--offset", type=int, choices=OFFSETS_PCT, action="append",
                    help="the host's baud rate off by this many per cent (default: all)")
    args = ap.parse_args(argv)
    tests = ",".join(f"loopback/offset_pct={pct}" for pct in args.offset or OFFSETS_PCT)
    log = build(args.sim).run(tests, f"cli-{args.seed}-{args.bytes}", "tb_uart",
                              extra_env={"SAL_SEED": args.seed, "SAL_BYTES": args.bytes})
    print(f"passed; log {log}")


if __name__ == "__main__":
    main()
