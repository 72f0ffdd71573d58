"""PLLs of the two boards: the board oscillator to the core clock.

The divider search follows the vendors' rules (the same constraints
icepll and ecppll use); ``ice40_pll(12e6, 30e6)`` and
``ecp5_pll(25e6, 100e6)`` return the parameters and the exact output
frequency, and :class:`PLL` instantiates the primitive for a platform.
"""

from dataclasses import dataclass

from amaranth.hdl import Elaboratable, Instance, Module, Signal

__all__ = ["ice40_pll", "ecp5_pll", "PLL", "PLLSettings"]


@dataclass(frozen=True)
class PLLSettings:
    family: str
    f_in: float
    f_out: float          # what the dividers give (may differ a little from the request)
    params: dict


def ice40_pll(f_in, f_out):
    """SB_PLL40 dividers: f_out = f_in (DIVF+1) / ((DIVR+1) 2^DIVQ), closest to ``f_out``.

    Constraints (iCE40 sysCLOCK PLL): PFD 10-133 MHz, VCO 533-1066 MHz,
    DIVR 0-15, DIVF 0-127, DIVQ 1-6.
    """
    best = None
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533e6 <= vco <= 1066e6:
                continue
            for divq in range(1, 7):
                out = vco / 2 ** divq
                if best is None or abs(out - f_out) < abs(best[0] - f_out):
                    best = (out, divr, divf, divq, pfd)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting from {f_in / 1e6:g} MHz")
    out, divr, divf, divq, pfd = best
    # FILTER_RANGE by PFD frequency (iCE40 PLL user guide table)
    filter_range = next(i for i, top in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 133e6), 1)
                        if pfd < top)
    return PLLSettings("ice40", f_in, out, {"DIVR": divr, "DIVF": divf, "DIVQ": divq,
                                             "FILTER_RANGE": filter_range})


def ecp5_pll(f_in, f_out):
    """EHXPLLL dividers: f_out = f_in CLKFB_DIV / CLKI_DIV, VCO = f_out CLKOP_DIV.

    Constraints (ECP5 sysCLOCK): PFD 3.125-400 MHz, VCO 400-800 MHz,
    CLKI_DIV 1-128, CLKFB_DIV 1-80, CLKOP_DIV 1-128.
    """
    best = None
    for clki in range(1, 129):
        pfd = f_in / clki
        if not 3.125e6 <= pfd <= 400e6:
            continue
        for clkfb in range(1, 81):
            out = pfd * clkfb
            for clkop in range(1, 129):
                vco = out * clkop
                if 400e6 <= vco <= 800e6:
                    if best is None or abs(out - f_out) < abs(best[0] - f_out) - 1e-3:
                        best = (out, clki, clkfb, clkop)
                    break
    if best is None:
        raise ValueError(f"no ECP5 PLL setting from {f_in / 1e6:g} MHz")
    out, clki, clkfb, clkop = best
    return PLLSettings("ecp5", f_in, out, {"CLKI_DIV": clki, "CLKFB_DIV": clkfb,
                                            "CLKOP_DIV": clkop, "CLKOP_CPHASE": clkop - 1})


class PLL(Elaboratable):
    """Drives the ``sync`` domain from the board clock ``clk_in`` through the family's PLL.

    ``locked`` is high once the PLL has locked; the board top holds reset
    until then.
    """

    def __init__(self, settings, clk_in):
        self.settings = settings
        self.clk_in = clk_in
        self.locked = Signal()
        self.clk_out = Signal()

    def elaborate(self, platform):
        m = Module()
        s = self.settings.params
        if self.settings.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=s["DIVR"], p_DIVF=s["DIVF"],
                p_DIVQ=s["DIVQ"], p_FILTER_RANGE=s["FILTER_RANGE"],
                i_PACKAGEPIN=self.clk_in, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=self.clk_out, o_LOCK=self.locked)
        else:
            m.submodules.pll = Instance(
                "EHXPLLL", p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED", p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKOP_ENABLE="ENABLED", p_CLKI_DIV=s["CLKI_DIV"], p_CLKOP_DIV=s["CLKOP_DIV"],
                p_CLKOP_CPHASE=s["CLKOP_CPHASE"], p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKFB_DIV=s["CLKFB_DIV"],
                i_CLKI=self.clk_in, i_CLKFB=self.clk_out, i_RST=0, i_STDBY=0,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=0, i_PHASESTEP=0, i_PHASELOADREG=0,
                i_PLLWAKESYNC=0, i_ENCLKOP=0, o_CLKOP=self.clk_out, o_LOCK=self.locked,
                a_FREQUENCY_PIN_CLKI=f"{self.settings.f_in / 1e6:.6f}",
                a_FREQUENCY_PIN_CLKOP=f"{self.settings.f_out / 1e6:.6f}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2")
        return m
