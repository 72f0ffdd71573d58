"""cocotb testbench of the whole chip (rtl/chip.py) through its byte link, against the golden emulator.

The DUT (``sal_chip``, built by test_chip.py) is ``SALChip``: K cores, the
router, the inject queue and the host interface behind two byte streams.
The testbench is a host: every frame it sends goes to the DUT's ``rx`` and
to a ``ChipEmulator`` (golden/emulator.py); the bytes the DUT sends on ``tx``
must equal the emulator's reply, frame by frame.  The one field the
protocol leaves to the implementation, the ``cycles`` of a RUN reply
(emulator: 0), is compared masked; a retransmitted RUN reply must repeat the
DUT's own first reply byte for byte.

Tests:

``chip_networks``
    One network per simulation (SAL_NET: 0 a placed layered network, its
    neurons split over the cores; n > 0 random chip n: random core states
    from stimulus.random_core, random routing tables with overlapping
    ranges, fan-out and self routes), loaded with golden/transfer.py's
    WRITEs from reset, run for SAL_STEPS steps in random chunks with
    INJECTs and APPLYs between them, NEURON_HIST and AXON_HIST of every core
    read after every chunk (chunks never exceed the history, so every
    step's spikes are compared), and every space read back at the end.
``chip_fuzz``
    SAL_FRAMES frames of golden/fuzz.py's ProtocolFuzzer (valid, out of
    range, corrupted, truncated, oversized, empty, retransmitted), sometimes
    several back to back, on a loaded network; afterwards the whole state is
    read back and compared.
``chip_all_spike``
    Router stress: every neuron of every core fires every step and fans
    out to SAL_FANOUT destinations spread over all cores, for SAL_STEPS
    steps; EVENTS_ROUTED and every axon history must match (nothing lost,
    nothing duplicated).

Every exchange has a watchdog (with_timeout): a hang fails the test.
Environment: SAL_CHIP (JSON: CoreParams fields plus cores, lanes,
route_entries, inject_depth), SAL_SEED, SAL_NET, SAL_STEPS, SAL_FRAMES,
SAL_STALL (probability that tx__ready is low in a cycle), SAL_FANOUT.
"""

import json
import logging
import os
import random
import struct

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout

from sal_hw.golden.chip import ChipSpace, FixedChip, pack_route_dest, pack_route_index, place
from sal_hw.golden.emulator import ChipEmulator
from sal_hw.golden.fuzz import ProtocolFuzzer
from sal_hw.golden.network import layered
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import (CHIP, MAX_DATA, Apply, Checksum, Inject, Op, Read, Run,
                                    StatusRequest, cobs_decode, crc16, word_bytes)
from sal_hw.golden.spaces import Space, space_info
from sal_hw.golden.transfer import load_requests, loadable_snapshot
from stimulus import random_core

CLK_NS = 10
log = logging.getLogger("cocotb.chip")
log.setLevel(logging.INFO)


def _env_int(name, default):
    return int(os.environ.get(name, default))


class ChipConfig:
    """The DUT's build parameters, from SAL_CHIP."""

    def __init__(self):
        cfg = json.loads(os.environ["SAL_CHIP"])
        self.K = cfg.pop("cores")
        self.lanes = cfg.pop("lanes")
        self.D = cfg.pop("route_entries")
        self.Q = cfg.pop("inject_depth")
        self.p = CoreParams(**cfg)

    def fresh(self):
        return FixedChip(self.p, self.K, route_entries=self.D, inject_depth=self.Q,
                         lanes=self.lanes)


class Emulator(ChipEmulator):
    """The emulator, noting for each reply whether it is a new ACK, a RUN ACK, a repeat or a NAK."""

    def __init__(self, chip):
        super().__init__(chip)
        self.kinds = []
        self._last_run = False
        self._op = None

    def _execute(self, req):
        self._op = req.op
        return super()._execute(req)

    def handle(self, frame):
        prev = self._last
        self._op = None
        reply = super().handle(frame)
        if self._last is not prev:
            self._last_run = self._op == Op.RUN
            self.kinds.append("run" if self._last_run else "ack")
        elif prev is not None and reply is prev[1]:
            self.kinds.append("repeat")
        else:
            self.kinds.append("nak")
        return reply


def _frames(wire):
    """Wire bytes -> list of frames (each with its 00)."""
    out, start = [], 0
    for i, b in enumerate(wire):
        if b == 0:
            out.append(bytes(wire[start:i + 1]))
            start = i + 1
    if start != len(wire):
        out.append(bytes(wire[start:]))
    return out


class Link:
    """The host end of the DUT's byte link, with the emulator beside it."""

    def __init__(self, dut, cfg, rng, stall=0.0):
        self.dut, self.cfg, self.rng, self.stall = dut, cfg, rng, stall
        self.clk = dut.clk
        self.seq = 0
        self.emu = None
        self.frames = 0
        self.dut_last_ack = None
        self.run_cycles = []     # cycles of every executed RUN
        self.what = None         # the request in flight, for error messages
        self.history = []

    async def start(self):
        dut = self.dut
        dut.rx__valid.value = 0
        dut.rx__payload.value = 0
        dut.tx__ready.value = 1
        Clock(self.clk, CLK_NS, unit="ns").start()
        await self.reset()

    async def reset(self):
        """Reset the DUT and start a fresh emulator: both in the reset state."""
        self.dut.rst.value = 1
        await ClockCycles(self.clk, 5)
        self.dut.rst.value = 0
        await RisingEdge(self.clk)
        self.emu = Emulator(self.cfg.fresh())
        self.dut_last_ack = None

    async def _send(self, wire):
        dut = self.dut
        for byte in wire:
            dut.rx__payload.value = byte
            dut.rx__valid.value = 1
            await ReadOnly()
            while not dut.rx__ready.value:
                await RisingEdge(self.clk)
                await ReadOnly()
            await RisingEdge(self.clk)
        dut.rx__valid.value = 0

    async def _receive(self, n):
        dut = self.dut
        got = bytearray()
        while len(got) < n:
            await ReadOnly()
            if not dut.tx__valid.value:    # no per-cycle Python while the chip works
                await RisingEdge(dut.tx__valid)
                await ReadOnly()
            if dut.tx__valid.value and dut.tx__ready.value:
                got.append(int(dut.tx__payload.value))
            await RisingEdge(self.clk)
            if self.stall:
                dut.tx__ready.value = int(self.rng.random() >= self.stall)
        dut.tx__ready.value = 1
        return bytes(got)

    async def exchange(self, wire, timeout_cycles=None):
        """Send ``wire`` to both; check the DUT's reply bytes against the emulator's."""
        kinds_before = len(self.emu.kinds)
        want = self.emu.feed(wire)
        kinds = self.emu.kinds[kinds_before:]
        limit = timeout_cycles or 50_000 + 40 * len(wire) + 40 * len(want)
        receiver = cocotb.start_soon(self._receive(len(want)))
        await with_timeout(self._send(wire), limit * CLK_NS, "ns")
        got = await with_timeout(receiver, limit * CLK_NS, "ns")
        self.frames += len(kinds)
        self._check(got, want, kinds, wire)
        return got

    def _check(self, got, want, kinds, wire):
        """:meth:`_compare`, a failure told with the request and the recent history."""
        try:
            self._compare(got, want, kinds)
        except AssertionError as e:
            raise AssertionError(f"{e}\n  request {self.what or wire.hex()} after "
                                 f"{self.frames} frames; chip step "
                                 f"{self.emu.chip.step_count}; recent: {self.history[-6:]}") \
                from None

    def _compare(self, got, want, kinds):
        """Every frame the emulator handles gets one reply (ignored empty frames are
        dropped before), so ``kinds`` pairs with the expected reply frames."""
        got_frames, want_frames = _frames(got), _frames(want)
        assert len(want_frames) == len(kinds)
        assert len(got_frames) == len(want_frames), \
            f"{len(got_frames)} reply frames, expected {len(want_frames)}: {got.hex()} vs " \
            f"{want.hex()}"
        for g, w, kind in zip(got_frames, want_frames, kinds):
            if kind in ("run", "repeat") and g != w:
                gd, wd = cobs_decode(g[:-1]), cobs_decode(w[:-1])
                same = len(gd) == len(wd) == 16 and gd[:6] == wd[:6]
                assert same, f"RUN reply {g.hex()} != {w.hex()} beyond the cycles field"
                assert int.from_bytes(gd[-2:], "little") == crc16(gd[:-2]), \
                    f"RUN reply {g.hex()}: bad CRC"
            else:
                assert g == w, f"{kind} reply {g.hex()} != expected {w.hex()}"
            if kind == "repeat":
                assert g == self.dut_last_ack, (f"retransmitted reply {g.hex()} differs from "
                                                f"the first {self.dut_last_ack.hex()}")
            elif kind in ("ack", "run"):
                self.dut_last_ack = g
                if kind == "run":
                    self.run_cycles.append(int.from_bytes(cobs_decode(g[:-1])[6:14], "little"))

    async def call(self, req, timeout_cycles=None):
        """One request with a fresh seq; returns the decoded reply body (ACK) or raises."""
        self.seq = (self.seq + 1) % 256
        stored = self.emu._last
        if stored is not None and self.seq == stored[0]:   # would be taken for a retry
            self.seq = (self.seq + 1) % 256
        self.what = repr(req)
        self.history.append(self.what)
        got = await self.exchange(req.wire(self.seq), timeout_cycles)
        self.what = None
        dec = cobs_decode(got[:-1])
        assert dec[0] == self.seq and dec[1] == 0, f"{req}: NAK {dec.hex()}"
        return bytes(dec[2:-2])

    # -- whole spaces ------------------------------------------------------------------
    async def read_space(self, core, space):
        """Read a whole space (replies compared); returns its bytes."""
        info = self.emu.info.space_info(core, space)
        wb = word_bytes(info.bits)
        step = MAX_DATA // wb
        out = b""
        for addr in range(0, info.depth, step):
            out += await self.call(Read(core, int(space), addr, min(step, info.depth - addr)))
        return out

    async def read_all(self):
        """Every readable word of the chip, compared with the emulator's."""
        for c in range(self.cfg.K):
            for sp in Space:
                await self.read_space(c, sp)
            await self.call(Checksum(c, int(Space.WEIGHT), 0,
                                     space_info(self.cfg.p, Space.WEIGHT).depth))
        for cs in ChipSpace:
            await self.read_space(CHIP, cs)

    async def load(self, chip):
        for req in load_requests(chip):
            await self.call(req)
        assert loadable_snapshot(self.emu.chip) == loadable_snapshot(chip), \
            "the load did not reproduce the chip"


# -- stimulus ---------------------------------------------------------------------------------
def random_routes(cfg, rng):
    """A random routing table: overlapping ranges, fan-out up to 4, self routes, silent neurons."""
    K, N, A, D = cfg.K, cfg.p.neurons, cfg.p.axons, cfg.D
    dest = [pack_route_dest(int(rng.integers(K)), int(rng.integers(A))) for _ in range(D)]
    index = []
    for _ in range(K * N):
        count = int(rng.integers(1, min(4, D) + 1)) if rng.random() < 0.8 else 0
        index.append(pack_route_index(int(rng.integers(D - count + 1)), count))
    return index, dest


def random_chip(cfg, seed):
    rng = np.random.default_rng(seed)
    cores = [random_core(cfg.p, seed * 16 + c)[0] for c in range(cfg.K)]
    chip = FixedChip(cfg.p, cores, route_entries=cfg.D, inject_depth=cfg.Q, lanes=cfg.lanes)
    chip.load_routes(*random_routes(cfg, rng))
    return chip


def placed_chip(cfg, seed):
    """A layered network split over the cores, its neurons in random order."""
    p, K = cfg.p, cfg.K
    size = min(K * p.neurons, p.axons, 3 * p.neurons)
    sizes = (size // 2, size - size // 2 - size // 4, size // 4)
    net = layered(sizes, tau=4, eta=0.5, seed=seed)
    net.kernel = net.kernel[:p.history]
    pl = place(net, p, K, apply_period=37)
    return pl.chip(route_entries=cfg.D, inject_depth=cfg.Q, lanes=cfg.lanes), pl


async def run_network(link, cfg, rng, steps):
    """RUN in chunks no longer than the history, reading every core's histories after each."""
    H = cfg.p.history
    done = 0
    while done < steps:
        if rng.random() < 0.3:
            now = link.emu.chip.step_count
            axons = [int(a) for a in rng.integers(0, cfg.p.axons, int(rng.integers(0, 6)))]
            room = cfg.Q - link.emu.chip.inject_pending
            await link.call(Inject(now + int(rng.integers(0, 8)), int(rng.integers(cfg.K)),
                                   tuple(axons[:room])))
        if rng.random() < 0.05:
            await link.call(Apply(int(rng.choice([CHIP, int(rng.integers(cfg.K))]))))
        chunk = int(min(steps - done, rng.integers(1, H + 1)))
        await link.call(Run(chunk), timeout_cycles=100_000 + chunk * 40 * _step_bound(cfg))
        done += chunk
        for c in range(cfg.K):
            await link.read_space(c, Space.NEURON_HIST)
            await link.read_space(c, Space.AXON_HIST)
        if rng.random() < 0.2:
            await link.call(StatusRequest())


def _step_bound(cfg):
    p = cfg.p
    return p.neurons + p.axons + (p.neurons * p.axons) // cfg.lanes + 64


# -- tests --------------------------------------------------------------------------------------
@cocotb.test()
async def chip_networks(dut):
    """One network per simulation: memories keep their contents through ``rst`` (only a
    new simulation, like a reconfigured FPGA, starts from the documented reset state)."""
    cfg = ChipConfig()
    seed = _env_int("SAL_SEED", 1)
    net = _env_int("SAL_NET", 0)
    rng = np.random.default_rng([seed, net])
    link = Link(dut, cfg, random.Random(seed), float(os.environ.get("SAL_STALL", "0.2")))
    await link.start()
    steps = _env_int("SAL_STEPS", 1000)
    if net:
        chip = random_chip(cfg, seed * 100 + net)
        what = f"random chip {seed * 100 + net}"
    else:
        chip, _ = placed_chip(cfg, seed)
        what = f"placed layered network (seed {seed})"
    log.info("%s: K=%d, %d route entries", what, cfg.K, len(chip.route_dest))
    await link.load(chip)
    before = [list(c.read(Space.WEIGHT)) for c in link.emu.chip.cores]
    await run_network(link, cfg, rng, steps)
    await link.read_all()
    emu = link.emu.chip
    spikes = sum(sum(c.read(Space.SPIKE_COUNT)) for c in emu.cores)
    changed = sum(b != list(c.read(Space.WEIGHT)) for b, c in zip(before, emu.cores))
    log.info("%s: %d steps, %d spikes counted, %d events routed, %d injected, weights "
             "changed on %d of %d cores; %d frames, all equal; last RUN cycles %s", what,
             emu.step_count, spikes, emu.events_routed, emu.events_injected, changed, cfg.K,
             link.frames, link.run_cycles[-3:])
    assert emu.step_count == steps
    assert spikes > 0 and emu.events_routed > 0, "nothing fired: the comparison is vacuous"


@cocotb.test()
async def chip_fuzz(dut):
    cfg = ChipConfig()
    seed = _env_int("SAL_SEED", 1)
    frames = _env_int("SAL_FRAMES", 2500)
    rng = random.Random(seed)
    link = Link(dut, cfg, rng, float(os.environ.get("SAL_STALL", "0.2")))
    await link.start()
    chip, _ = placed_chip(cfg, seed)
    await link.load(chip)
    fuzz = ProtocolFuzzer(rng, link.emu.chip)
    fuzz.seq = link.seq
    sent, pending = 0, b""
    while sent < frames:
        pending += fuzz.next_frame()
        sent += 1
        if rng.random() < 0.3 and sent < frames:
            continue            # several frames back to back
        await link.exchange(pending, timeout_cycles=400_000 + 60 * len(pending))
        pending = b""
    await link.exchange(b"\x00")   # end any partial frame
    link.seq = fuzz.seq
    kinds = link.emu.kinds
    await link.read_all()
    emu = link.emu.chip
    log.info("chip_fuzz: %d frames: %d ACK, %d RUN, %d repeats, %d NAK; chip step %d, "
             "%d events routed", sent, kinds.count("ack"), kinds.count("run"),
             kinds.count("repeat"), kinds.count("nak"), emu.step_count, emu.events_routed)
    assert kinds.count("nak") > frames // 5 and kinds.count("repeat") > 0
    assert emu.step_count > 0


@cocotb.test()
async def chip_all_spike(dut):
    cfg = ChipConfig()
    seed = _env_int("SAL_SEED", 1)
    steps = _env_int("SAL_STEPS", 200)
    fanout = _env_int("SAL_FANOUT", 4)
    K, N, A, D = cfg.K, cfg.p.neurons, cfg.p.axons, cfg.D
    rng = np.random.default_rng(seed)
    link = Link(dut, cfg, random.Random(seed), float(os.environ.get("SAL_STALL", "0.2")))
    await link.start()
    chip = cfg.fresh()
    lut = [(1 << cfg.p.lut_width) - 1] * cfg.p.lut_depth
    for core in chip.cores:
        core.write(Space.LUT, 0, lut)                 # every neuron fires for certain
    fan = min(fanout, D // (K * N)) or 1
    dest = [pack_route_dest(int(rng.integers(K)), int(rng.integers(A)))
            for _ in range(min(D, K * N * fan))]
    index = [pack_route_index((i * fan) % (len(dest) - fan + 1), fan) for i in range(K * N)]
    chip.load_routes(index, dest)
    await link.load(chip)
    await link.call(Run(steps), timeout_cycles=200_000 + steps * 40 * _step_bound(cfg))
    status = struct.unpack("<IIIIH", await link.call(StatusRequest()))
    assert status[0] == steps and status[1] == steps * K * N * fan, status
    for c in range(K):
        await link.read_space(c, Space.AXON_HIST)
        await link.read_space(c, Space.SPIKE_COUNT)
    log.info("chip_all_spike: %d steps, %d events routed (%d per step), RUN cycles %d",
             steps, status[1], K * N * fan, link.run_cycles[-1])
