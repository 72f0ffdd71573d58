"""The board top: oscillator -> PLL -> core clock, reset synchronizer, UART host link, the chip, LEDs.

::

    board clock --PLL--> sync (core clock) ---------------------------------+
    (locked = 0 or the reset button) -> ResetSynchronizer -> sync reset     |
    uart.rx pin -> UARTRx -> FIFO -> chip.rx    chip.tx -> UARTTx -> uart.tx pin
    LEDs: heartbeat (clock alive), link activity (rx or tx byte), a framing error or overrun seen

The same top serves both boards (``BOARDS`` gives each one's platform,
chip configuration and core clock).  ``BoardTop(board, sim=True)`` leaves
out the PLL and the pins and exposes ``rx``/``tx`` as ports, so that the
cocotb test can drive the UART line of exactly this design.
"""

from dataclasses import dataclass, field

from amaranth.hdl import ClockDomain, Const, Instance, Module, Signal
from amaranth.lib import cdc, fifo, io, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import CoreParams
from ..rtl.chip import SALChip
from ..rtl.pipeline import delayed
from ..rtl.uart import UART
from .pll import PLL, ecp5_pll, ice40_pll

__all__ = ["BoardConfig", "BOARDS", "BoardTop"]


#: registers between the status logic and the LED pins
LED_REGISTERS = 3


def ecp5_global_buffer(m, signal, name):
    """``signal`` through a DCCA, which nextpnr routes on one of the ECP5's global networks
    (it promotes only clocks by itself): a reset that reaches a block's every flip-flop in
    about 3 ns wherever the placer spread them."""
    out = Signal(name=f"{name}_global")
    m.submodules[f"{name}_dcca"] = Instance("DCCA", i_CLKI=signal, i_CE=Const(1), o_CLKO=out)
    return out


@dataclass(frozen=True)
class BoardConfig:
    """A board build: platform, core clock, baud rate and the chip it carries."""

    name: str
    platform: str                     # amaranth_boards class, "module:Class"
    family: str                       # "ice40" or "ecp5" (the PLL primitive)
    f_osc: float                      # the board oscillator (Hz)
    f_core: float                     # target core clock (Hz)
    baud: int
    params: CoreParams
    cores: int
    lanes: int
    route_entries: int
    inject_depth: int
    fifo_depth: int = 4
    #: nextpnr's router: router1 gives the better clock where it converges; the 4-core
    #: ULX3S design needs router2 (router1 still had 248k of 269k arcs queued after 8 min)
    router: str = "router1"
    #: register slices between the chip's blocks (rtl/chip.py): for a die they span
    slices: bool = True
    #: more nextpnr options (the placer's)
    nextpnr_extra: str = ""
    #: the ECP5 device's DP16KD count; nonzero: with more than one core, each core's block
    #: RAMs are pinned to a region of their own before placement (boards/floorplan.py)
    floorplan_ebr: int = 0
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def make_platform(self):
        module, cls = self.platform.split(":")
        return getattr(__import__(module, fromlist=[cls]), cls)()

    def chip(self, sim=False):
        """The chip; for hardware, on the ECP5, with its blocks' resets on global networks."""
        reset_buffer = ecp5_global_buffer if self.family == "ecp5" and not sim else None
        return SALChip(self.params, self.cores, self.lanes, self.route_entries,
                       self.inject_depth, self.fifo_depth, slices=self.slices,
                       reset_buffer=reset_buffer)

    def describe(self):
        p = self.params
        return {"board": self.name, "f_core_target_hz": self.f_core, "baud": self.baud,
                "cores": self.cores, "neurons": p.neurons, "axons": p.axons,
                "history": p.history, "lanes": self.lanes,
                "synapses_per_core": p.neurons * p.axons,
                "route_entries": self.route_entries, "inject_depth": self.inject_depth,
                "slices": self.slices, "floorplan_ebr": self.floorplan_ebr,
                "nextpnr_router": self.router,
                "nextpnr_extra": self.nextpnr_extra}


BOARDS = {
    # iCE40UP5K: 5,280 LUT4, 30 x 4 kbit EBR.  One small core: the block RAMs hold the
    # synapses (27 bits each), the frame and reply buffers (1,100 + 1,028 bytes) and the
    # per-neuron and per-axon memories.
    "icebreaker": BoardConfig(
        "icebreaker", "amaranth_boards.icebreaker:ICEBreakerPlatform", "ice40", 12e6, 30e6,
        3_000_000,
        CoreParams(neurons=32, axons=32, history=16, lut_bits=6), cores=1, lanes=1,
        route_entries=64, inject_depth=16, slices=False,
        notes="one 32 x 32 core, history 16"),
    # LFE5U-85F: 83,640 LUT4, 208 x 18 kbit EBR.  Room for several cores of the default
    # width and lanes in parallel.  The core clock is one the 4-core chip meets, 70 MHz
    # (PLL 25 MHz * 14 / 5): with its block RAMs floorplanned it routes at 79-81 MHz, short
    # of the 100 MHz target (docs/boards.md); `sal-hw build --clock 100` builds for that.
    "ulx3s-85f": BoardConfig(
        "ulx3s-85f", "amaranth_boards.ulx3s:ULX3S_85F_Platform", "ecp5", 25e6, 70e6,
        3_000_000,
        CoreParams(neurons=64, axons=256, history=64), cores=4, lanes=4,
        route_entries=1024, inject_depth=256, router="router2",
        # a more timing-driven placement: 74.6 MHz for the 4-core chip, 69.6 with the
        # defaults (timing weight 10, criticality exponent 2), from the same netlist
        nextpnr_extra="--placer-heap-timingweight 40 --placer-heap-critexp 4",
        floorplan_ebr=208,
        notes="4 cores of 64 neurons x 256 axons (256 neurons in all), 4 lanes"),
}


class BoardTop(wiring.Component):
    """The whole design of one board.

    With ``sim=True``: no PLL and no pins; the ``sync`` domain is the
    simulator's clock and ``rx``/``tx`` are the UART line as ports (the
    cocotb board test), and ``f_core`` is taken as the clock the testbench
    drives.
    """

    def __init__(self, config, sim=False):
        self.config = config
        self.sim = sim
        self.settings = None
        if not sim:
            pll = ice40_pll if config.family == "ice40" else ecp5_pll
            self.settings = pll(config.f_osc, config.f_core)
        self.f_core = self.settings.f_out if self.settings else config.f_core
        self.chip = config.chip(sim)
        self.uart = UART(self.f_core, config.baud)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1),
                          "leds": Out(3)} if sim else {})

    def elaborate(self, platform):
        m = Module()
        m.submodules.chip = chip = self.chip
        m.submodules.uart = uart = self.uart
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFOBuffered(width=8, depth=16)
        wiring.connect(m, uart.rx_data, rx_fifo.w_stream)
        wiring.connect(m, rx_fifo.r_stream, chip.rx)
        wiring.connect(m, chip.tx, uart.tx_data)

        leds = Signal(3)
        if self.sim:
            m.d.comb += [uart.rx.eq(self.rx), self.tx.eq(uart.tx), self.leds.eq(leds)]
        else:
            m.domains.sync = sync = ClockDomain("sync")
            clk = platform.request(platform.default_clk, dir="-")
            m.submodules.pll = pll = PLL(self.settings, clk.io)
            m.d.comb += sync.clk.eq(pll.clk_out)
            m.submodules.button = button = io.Buffer("i", platform.request("button", 0,
                                                                           dir="-"))
            m.submodules.reset_sync = cdc.ResetSynchronizer(~pll.locked | button.i,
                                                            domain="sync")
            # nextpnr derives the core clock's constraint from the oscillator's (the
            # platform constrains it) through the PLL's dividers
            pins = platform.request("uart", 0, dir="-")
            m.submodules.uart_rx = rx_pin = io.Buffer("i", pins.rx)
            m.submodules.uart_tx = tx_pin = io.Buffer("o", pins.tx)
            m.d.comb += [uart.rx.eq(rx_pin.i), tx_pin.o.eq(uart.tx)]
            n_leds = sum(1 for name, _ in platform.resources if name == "led")
            for i in range(min(3, n_leds)):
                m.submodules[f"led{i}"] = led = io.Buffer("o", platform.request("led", i,
                                                                                dir="-"))
                m.d.comb += led.o.eq(leds[i])

        # heartbeat 1.5 Hz (toggles every 1/3 s); link activity stretched to 20 ms; a
        # framing error or an overrun (a byte lost on the way in) latches the third LED
        beat = Signal(range(int(self.f_core // 3)))
        heartbeat = Signal()
        with m.If(beat == int(self.f_core // 3) - 1):
            m.d.sync += [beat.eq(0), heartbeat.eq(~heartbeat)]
        with m.Else():
            m.d.sync += beat.eq(beat + 1)
        activity = Signal(range(int(self.f_core // 50) + 1))
        # (a byte seen is registered twice first: the UART and the chip's reply logic are
        # not next to this counter)
        link_byte = delayed(m, uart.rx_data.valid | (chip.tx.valid & chip.tx.ready), 2,
                            "link_byte")
        with m.If(link_byte):
            m.d.sync += activity.eq(int(self.f_core // 50))
        with m.Elif(activity != 0):
            m.d.sync += activity.eq(activity - 1)
        status = Signal(3)
        m.d.comb += [status[0].eq(heartbeat), status[1].eq(activity != 0),
                     status[2].eq((uart.framing_errors != 0) | (uart.overruns != 0))]
        # The LED pins can be a whole die away from the logic that drives them: three
        # registers on the way let the placer cover the distance in steps (a single
        # register-to-pin hop was the 4-core ULX3S build's critical path, 19 ns of routing).
        m.d.comb += leds.eq(delayed(m, status, LED_REGISTERS, "led"))
        return m
