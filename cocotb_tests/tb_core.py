"""cocotb testbench of the SAL core (Verilog of sal_hw.rtl.core.SALCore) against the golden model.

Run through the pytest runners in test_core.py (see README.md).  The core
configuration comes from the environment the runner sets:

    SAL_PARAMS    CoreParams fields as JSON         SAL_LANES     lanes
    SAL_NETWORKS  random networks to run (1)        SAL_SEED      seed of the first one (1)
    SAL_STEPS     single steps per network (1000)   SAL_WATCHDOG  cycles a command may take (1e6)
    SAL_CHECK_EVERY  compare every space every N steps too (0 = only at the end)
    SAL_CONFIG, SAL_SIM  names for the replay hint    SAL_CLOCK_IMPL  gpi (default) or py
    SAL_INJECT_FAULT  SPACE:addr:value,...: change the golden model only (self-test)

Network i of a run has seed SAL_SEED + i and is a pure function of that seed
and the core parameters (stimulus.random_core), so a failing one replays with
SAL_SEED=<its seed> SAL_NETWORKS=1.
"""

import json
import logging
import os
import time

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer

from sal_hw.golden.fixed import AccessError
from sal_hw.golden.params import CoreParams
from sal_hw.golden.spaces import Config, Space, pack_rule, space_info
from sal_hw.rtl.command import Op, pack_command, unpack_response

from stimulus import (READABLE, WRITABLE, all_spike_core, describe, from_word,
                      none_spike_core, random_core, saturation_core, state_of, to_word)

CLK_NS = 10
log = logging.getLogger("cocotb.sal")
log.setLevel(logging.INFO)


def _env_int(name, default):
    return int(float(os.environ.get(name, default)))


WATCHDOG = _env_int("SAL_WATCHDOG", 1_000_000)


def core_params():
    fields = json.loads(os.environ["SAL_PARAMS"]) if os.environ.get("SAL_PARAMS") else {}
    return CoreParams(**fields)


class CommandError(AssertionError):
    """The DUT answered a command with an error it should not have (or vice versa)."""


class WatchdogError(AssertionError):
    """A command took longer than the watchdog allows."""


class TB:
    """Drives the core's command stream: one command in flight, rsp__ready held high."""

    def __init__(self, dut, params=None, lanes=None):
        self.dut = dut
        self.p = params or core_params()
        self.lanes = lanes or _env_int("SAL_LANES", 1)
        self.clk = dut.clk
        self.watchdog = WATCHDOG
        self.commands = 0
        self.issued = 0
        self.pending = None
        self.run_cycles = []        # (steps, cycles) of every RUN
        self.apply_cycles = []

    async def start(self):
        dut = self.dut
        dut.cmd__valid.value = 0
        dut.cmd__payload.value = 0
        dut.rsp__ready.value = 1
        dut.rst.value = 1
        Clock(self.clk, CLK_NS, unit="ns", impl=os.environ.get("SAL_CLOCK_IMPL", "gpi")).start()
        cocotb.start_soon(self._watchdog())
        await self.reset()

    async def reset(self, cycles=5):
        """rst high for ``cycles`` rising edges."""
        self.dut.rst.value = 1
        self.dut.cmd__valid.value = 0
        await ClockCycles(self.clk, cycles)
        self.dut.rst.value = 0
        await RisingEdge(self.clk)

    # -- the command round trip ---------------------------------------------------
    async def _watchdog(self):
        """Fail the test when one command stays in flight for WATCHDOG cycles or more."""
        seen = None
        while True:
            await Timer(self.watchdog * CLK_NS, unit="ns")
            if self.pending is not None and seen == self.issued:
                raise WatchdogError(f"watchdog: {self._what()} did not complete within "
                                    f"{self.watchdog} cycles")
            seen = self.issued

    async def _until_high(self, sig):
        """From a ReadOnly phase: return in a ReadOnly phase with ``sig`` high."""
        while not sig.value:
            await RisingEdge(sig)
            await ReadOnly()

    async def command(self, op, space=0, addr=0, value=0, expect_error=False):
        """Send one command, wait for its response; returns (data, error).

        Raises CommandError when ``error`` differs from ``expect_error`` (None: no check).
        Starts and returns right after a rising edge of clk.  No per-cycle Python: the
        waits are edge triggers on cmd__ready and rsp__valid, guarded by _watchdog.
        """
        dut = self.dut
        self.issued += 1
        self.pending = (op, space, addr, value)
        dut.cmd__payload.value = pack_command(op, space, addr, value)
        dut.cmd__valid.value = 1
        await ReadOnly()
        if not dut.cmd__ready.value:
            if dut.rsp__valid.value:
                raise CommandError(f"response without a command before {self._what()}")
            await self._until_high(dut.cmd__ready)
        early = bool(dut.rsp__valid.value)   # a response in the accepting cycle itself
        word = dut.rsp__payload.value.to_unsigned() if early else None
        await RisingEdge(self.clk)
        dut.cmd__valid.value = 0
        if not early:
            await ReadOnly()
            await self._until_high(dut.rsp__valid)
            word = dut.rsp__payload.value.to_unsigned()
            await RisingEdge(self.clk)
        self.pending = None
        self.commands += 1
        data, err = unpack_response(word)
        if expect_error is not None and bool(err) != bool(expect_error):
            raise CommandError(f"{self._what((op, space, addr, value))}: error={err}, expected "
                               f"{int(bool(expect_error))} (data {data:#x})")
        return data, err

    async def command_held(self, op, space=0, addr=0, value=0, hold=0):
        """One command with the response held back: rsp__ready low until ``hold`` cycles
        after rsp__valid rose.  Checks the stream rules cycle by cycle: the response
        stays valid with a stable payload while not taken, and comes exactly once.
        Returns (data, error)."""
        dut = self.dut
        self.issued += 1
        self.pending = (op, space, addr, value)
        what = self._what()
        dut.rsp__ready.value = 0
        dut.cmd__payload.value = pack_command(op, space, addr, value)
        dut.cmd__valid.value = 1
        await ReadOnly()
        while not dut.cmd__ready.value:
            await RisingEdge(self.clk)
            await ReadOnly()
        await RisingEdge(self.clk)
        dut.cmd__valid.value = 0
        await ReadOnly()
        while not dut.rsp__valid.value:
            await RisingEdge(self.clk)
            await ReadOnly()
        word = dut.rsp__payload.value.to_unsigned()
        for k in range(hold):
            await RisingEdge(self.clk)
            await ReadOnly()
            if not dut.rsp__valid.value or dut.rsp__payload.value.to_unsigned() != word:
                raise AssertionError(f"{what}: response withdrawn or changed {k + 1} cycles "
                                     f"into rsp__ready low (valid {dut.rsp__valid.value})")
        await RisingEdge(self.clk)
        dut.rsp__ready.value = 1
        await ReadOnly()
        if not dut.rsp__valid.value or dut.rsp__payload.value.to_unsigned() != word:
            raise AssertionError(f"{what}: response withdrawn before it was taken")
        await RisingEdge(self.clk)   # taken here
        await ReadOnly()
        if dut.rsp__valid.value:
            raise AssertionError(f"{what}: a second response after the first was taken")
        await RisingEdge(self.clk)
        self.pending = None
        self.commands += 1
        return unpack_response(word)

    async def reset_during(self, op, value, cycles):
        """Start command ``op`` (RUN/APPLY), then reset ``cycles`` cycles after it was
        accepted, without waiting for its response."""
        dut = self.dut
        dut.cmd__payload.value = pack_command(op, 0, 0, value)
        dut.cmd__valid.value = 1
        await ReadOnly()
        while not dut.cmd__ready.value:
            await RisingEdge(self.clk)
            await ReadOnly()
        await RisingEdge(self.clk)
        dut.cmd__valid.value = 0
        await ClockCycles(self.clk, cycles)
        await self.reset()
        await ReadOnly()
        if dut.rsp__valid.value:
            raise AssertionError("a response after reset without a command")
        await RisingEdge(self.clk)

    def _what(self, cmd=None):
        op, space, addr, value = cmd or self.pending or (None, 0, 0, 0)
        if op == Op.RUN:
            return f"RUN {value} steps"
        if op == Op.APPLY:
            return "APPLY"
        name = Op(op).name if op in Op._value2member_map_ else f"op {op}"
        sp = Space(space).name if space in Space._value2member_map_ else f"space {space}"
        return f"{name} {sp} addr {addr} data {value}"

    async def read(self, space, addr, expect_error=False):
        return await self.command(Op.READ, space, addr, 0, expect_error)

    async def write(self, space, addr, value, expect_error=False):
        return await self.command(Op.WRITE, space, addr, value, expect_error)

    async def run(self, steps):
        data, err = await self.command(Op.RUN, 0, 0, steps)
        self.run_cycles.append((steps, data))
        return data, err

    async def apply(self):
        data, err = await self.command(Op.APPLY)
        self.apply_cycles.append(data)
        return data, err

    async def read_block(self, space):
        """Every word of ``space`` as the raw bits the DUT returns."""
        depth = space_info(self.p, space).depth
        return [(await self.read(space, a))[0] for a in range(depth)]

    async def read_space(self, space):
        """Every word of ``space`` as values (signed spaces sign-extended)."""
        return [from_word(self.p, space, w) for w in await self.read_block(space)]

    async def read_spikes(self):
        """The last step's spikes as a bool array (N,)."""
        words = await self.read_block(Space.SPIKES)
        bits = [(w >> j) & 1 for w in words for j in range(32)]
        return np.array(bits[:self.p.neurons], dtype=bool)

    # -- loading and comparing state ----------------------------------------------
    async def load(self, state):
        """Write {space: [values]} (values as the golden model reads them) into the DUT."""
        for space in WRITABLE:
            if space not in state:
                continue
            for addr, v in enumerate(state[space]):
                await self.write(space, addr, to_word(self.p, space, v))

    async def load_golden(self, golden):
        await self.load(state_of(golden))

    async def diff(self, golden, spaces=None, limit=8):
        """Compare ``spaces`` (default: every readable one) with ``golden.read``.

        Returns a list of lines, one per differing space (empty when all agree).
        """
        lines = []
        for space in spaces or READABLE:
            want = golden.read(space)
            got = await self.read_space(space)
            bad = [i for i, (w, g) in enumerate(zip(want, got)) if w != g]
            if bad:
                shown = ", ".join(f"[{i}{self._where(space, i)}] expected {want[i]} got {got[i]}"
                                  for i in bad[:limit])
                lines.append(f"{space.name}: {len(bad)} of {len(want)} words differ, first "
                             f"at {bad[0]}: {shown}")
        return lines

    def _where(self, space, i):
        if space in (Space.WEIGHT, Space.ACC, Space.RULE_INDEX):
            return f" a={i // self.p.neurons} n={i % self.p.neurons}"
        if space == Space.CONFIG:
            return f" {Config(i).name}"
        return ""

    async def check(self, golden, spaces=None, context=""):
        lines = await self.diff(golden, spaces)
        if lines:
            raise AssertionError(f"{context}: state differs from the golden model:\n  "
                                 + "\n  ".join(lines))

    def cycle_summary(self):
        single = [c for s, c in self.run_cycles if s == 1]
        if not single:
            return "no single-step runs"
        return (f"RUN(1) cycles min {min(single)} mean {np.mean(single):.0f} max {max(single)}; "
                f"{self.commands} commands")


# -- shared test bodies -----------------------------------------------------------------

async def _start(dut):
    tb = TB(dut)
    await tb.start()
    log.info("core %s, lanes %d", tb.p, tb.lanes)
    return tb


async def step_and_compare(tb, golden, steps, ctx, rng=None, apply_prob=0.0, poke_prob=0.0,
                           check_every=0):
    """``steps`` single RUN(1) steps, comparing SPIKES after each with golden.step().

    Returns the number of spikes seen.
    """
    fired = 0
    for t in range(steps):
        if rng is not None and apply_prob and rng.random() < apply_prob:
            golden.apply()
            await tb.apply()
        if rng is not None and poke_prob and rng.random() < poke_prob:
            await poke(tb, golden, rng)
        want = golden.step()
        await tb.run(1)
        got = await tb.read_spikes()
        if not np.array_equal(want, got):
            differ = np.flatnonzero(want != got).tolist()
            lines = await tb.diff(golden)
            raise AssertionError(
                f"{ctx}: SPIKES differ at step {t} (STEP_COUNT {golden.cfg[Config.STEP_COUNT]}): "
                f"neurons {differ}; expected fired {np.flatnonzero(want).tolist()}, "
                f"got fired {np.flatnonzero(got).tolist()}\n  state after the step:\n  "
                + ("\n  ".join(lines) if lines else "(every space agrees)"))
        fired += int(want.sum())
        if check_every and (t + 1) % check_every == 0:
            await tb.check(golden, context=f"{ctx}, after step {t}")
    return fired


async def poke(tb, golden, rng):
    """A host write between steps: one random word of a random writable space."""
    p = tb.p
    space = [Space.WEIGHT, Space.ACC, Space.RULE_INDEX, Space.BIAS, Space.AXON_HIST,
             Space.NEURON_HIST, Space.KERNEL, Space.CONFIG, Space.RULES,
             Space.REFRACTORY][int(rng.integers(0, 10))]
    info = space_info(p, space)
    addr = int(rng.integers(0, info.depth))
    if space == Space.CONFIG:
        addr = int(rng.choice([Config.TAU_SYN, Config.TAU_REF, Config.APPLY_PERIOD]))
        value = {Config.TAU_SYN: int(rng.integers(1, p.history + 1)),
                 Config.TAU_REF: int(rng.integers(1, 16)),
                 Config.APPLY_PERIOD: int(rng.integers(0, 40))}[Config(addr)]
    elif space == Space.RULES:
        value = pack_rule(p, *golden.rules[addr][:2], int(rng.integers(0, p.acc_bits)),
                          int(rng.integers(0, 8)))
    elif space in (Space.AXON_HIST, Space.NEURON_HIST):
        value = int.from_bytes(rng.bytes(16), "little") & ((1 << p.history) - 1)
    elif info.signed:
        lo, hi = -(1 << (info.bits - 1)), (1 << (info.bits - 1)) - 1
        value = int(rng.integers(lo, hi + 1))
    else:
        value = int(rng.integers(0, min(1 << info.bits, 1 << 62)))
        if space == Space.RULE_INDEX:
            value %= p.rules
    golden.write(space, addr, [value])
    await tb.write(space, addr, to_word(p, space, value))


def replay_hint(seed):
    """How to run one network again (SAL_CONFIG and SAL_SIM come from test_core.py)."""
    config, sim = os.environ.get("SAL_CONFIG"), os.environ.get("SAL_SIM", "verilator")
    if config:
        return (f"python cocotb_tests/test_core.py --config {config} --sim {sim} "
                f"--seed {seed}, or SAL_SEED={seed} SAL_NETWORKS=1 python -m pytest "
                f"cocotb_tests/test_core.py -k 'random_networks and {sim} and {config}'")
    return f"SAL_SEED={seed} SAL_NETWORKS=1"


def inject_fault(golden):
    """SAL_INJECT_FAULT=SPACE:addr:value[,...]: change the golden model only (a self-test:
    the testbench must then fail)."""
    for item in filter(None, os.environ.get("SAL_INJECT_FAULT", "").split(",")):
        space, addr, value = item.split(":")
        golden.write(Space[space], int(addr), [int(value)])
        log.warning("injected fault: golden %s[%s] = %s", space, addr, value)


# -- the tests ------------------------------------------------------------------------------

@cocotb.test()
async def random_networks(dut):
    """SAL_NETWORKS random networks from SAL_SEED: spikes every step, all state at the end."""
    tb = await _start(dut)
    count = _env_int("SAL_NETWORKS", 1)
    base = _env_int("SAL_SEED", 1)
    steps = _env_int("SAL_STEPS", 1000)
    check_every = _env_int("SAL_CHECK_EVERY", 0)
    for i in range(count):
        seed = base + i
        t0 = time.monotonic()
        golden, info = random_core(tb.p, seed)
        ctx = f"network seed {seed} (replay: {replay_hint(seed)})"
        log.info("network %d/%d: %s", i + 1, count, describe(info))
        rng = np.random.default_rng([seed, 1])
        apply_prob = float(rng.choice([0.0, 0.0, 0.01, 0.05]))
        poke_prob = float(rng.choice([0.0, 0.01, 0.03]))
        await tb.load_golden(golden)
        await tb.check(golden, WRITABLE, f"{ctx}, after loading")
        inject_fault(golden)
        ncmd = tb.commands
        t1 = time.monotonic()
        fired = await step_and_compare(tb, golden, steps, ctx, rng, apply_prob, poke_prob,
                                       check_every)
        t2 = time.monotonic()
        ncmd = tb.commands - ncmd
        # A multi-step RUN, then every space.
        k = int(rng.integers(2, 40))
        want = golden.run(k)[-1]
        await tb.run(k)
        got = await tb.read_spikes()
        if not np.array_equal(want, got):
            lines = await tb.diff(golden)
            raise AssertionError(f"{ctx}: SPIKES differ after RUN({k}): neurons "
                                 f"{np.flatnonzero(want != got).tolist()}\n  "
                                 + ("\n  ".join(lines) if lines else "(every space agrees)"))
        await tb.check(golden, context=f"{ctx}, after {steps} + {k} steps")
        rate = fired / (steps * tb.p.neurons)
        log.info("network seed %d passed: %d steps, spike rate %.4f, host apply/poke "
                 "probability %.2f/%.2f, APPLY_COUNT %d; load+check %.1fs, steps %.1fs "
                 "(%d commands), final check %.1fs; %s", seed, steps + k, rate, apply_prob,
                 poke_prob, golden.cfg[Config.APPLY_COUNT], t1 - t0, t2 - t1,
                 ncmd, time.monotonic() - t2, tb.cycle_summary())


@cocotb.test()
async def reset_and_reload(dut):
    """Load, read back, run, compare; reset in the middle of a RUN and reload another state;
    a third state on top without a reset."""
    tb = await _start(dut)
    base = _env_int("SAL_SEED", 1)
    for round_, seed in enumerate([base + 101, base + 202, base + 303]):
        golden, info = random_core(tb.p, seed)
        ctx = f"reset_and_reload round {round_}, state seed {seed}"
        log.info("%s: %s", ctx, describe(info))
        if round_ == 1:   # reset in the middle of a long RUN, then a clean start
            cycles = int(np.random.default_rng(seed).integers(5, 2000))
            log.info("%s: reset %d cycles into a RUN(100000)", ctx, cycles)
            await tb.reset_during(Op.RUN, 100000, cycles)
        await tb.load_golden(golden)
        await tb.check(golden, WRITABLE, f"{ctx}, read back after loading")
        await step_and_compare(tb, golden, 60, ctx)
        await tb.check(golden, context=f"{ctx}, after 60 steps")
        # Overwrite some state between steps and go on.
        rng = np.random.default_rng(seed)
        for _ in range(20):
            await poke(tb, golden, rng)
        await tb.check(golden, WRITABLE, f"{ctx}, after host writes")
        await step_and_compare(tb, golden, 40, ctx + " (after host writes)")
        await tb.check(golden, context=f"{ctx}, at the end")


def clipped_by_apply(golden):
    """How many weights the next apply clips at the top and at the bottom."""
    raw = golden.weight + (golden.acc >> golden._eta_s)
    lo, hi = golden.p.weight_range
    return int((raw > hi).sum()), int((raw < lo).sum())


@cocotb.test()
async def apply_at_saturation(dut):
    """Weights and accumulators at the bounds: host applies and periodic applies saturate."""
    tb = await _start(dut)
    p = tb.p
    base = _env_int("SAL_SEED", 1)
    alo, ahi = p.acc_range
    for round_ in range(3):
        seed = base + 500 + round_
        golden, info = saturation_core(p, seed)
        ctx = f"apply_at_saturation round {round_}, state seed {seed}"
        log.info("%s: %s", ctx, describe(info))
        await tb.load_golden(golden)
        await tb.check(golden, WRITABLE, f"{ctx}, after loading")
        over, under = clipped_by_apply(golden)
        assert over and under, f"{ctx}: the apply saturates only {over} up, {under} down"
        golden.apply()
        await tb.apply()
        await tb.check(golden, [Space.CONFIG, Space.WEIGHT, Space.ACC],
                       f"{ctx}, after the first apply ({over} weights clip high, {under} low)")
        # Refill the accumulators at the bounds and apply again from the saturated weights.
        rng = np.random.default_rng(seed)
        acc = rng.choice([alo, ahi, alo + 1, ahi - 1, -1, 0, 1], p.axons * p.neurons).tolist()
        golden.write(Space.ACC, 0, acc)
        for a, v in enumerate(acc):
            await tb.write(Space.ACC, a, to_word(p, Space.ACC, v))
        over, under = clipped_by_apply(golden)
        golden.apply()
        await tb.apply()
        await tb.check(golden, [Space.CONFIG, Space.WEIGHT, Space.ACC],
                       f"{ctx}, after the second apply ({over} weights clip high, {under} low)")
        # Apply every step while everything fires.
        cfg = golden.read(Space.CONFIG)
        cfg[Config.APPLY_PERIOD] = 1
        cfg[Config.TAU_REF] = 1
        golden.write(Space.CONFIG, 0, cfg)
        golden.write(Space.LUT, 0, [p.lut_certain] * p.lut_depth)
        for addr in (Config.APPLY_PERIOD, Config.TAU_REF):
            await tb.write(Space.CONFIG, addr, cfg[addr])
        for k in range(p.lut_depth):
            await tb.write(Space.LUT, k, p.lut_certain)
        await step_and_compare(tb, golden, 20, ctx + " (apply every step)")
        await tb.check(golden, context=f"{ctx}, at the end")
        log.info("%s passed", ctx)


async def _directed(dut, make, name, per_step, steps=50):
    """Two rounds of ``steps`` steps from ``make(params, seed)``; ``per_step`` is the number
    of spikes every step must have (a check of the stimulus itself)."""
    tb = await _start(dut)
    base = _env_int("SAL_SEED", 1)
    for round_ in range(2):
        seed = base + 700 + round_
        golden, info = make(tb.p, seed)
        ctx = f"{name} round {round_}, state seed {seed}"
        log.info("%s: %s", ctx, describe(info))
        await tb.load_golden(golden)
        fired = await step_and_compare(tb, golden, steps, ctx)
        assert fired == steps * per_step(tb.p), f"{ctx}: stimulus gave {fired} spikes"
        await tb.check(golden, context=f"{ctx}, after {steps} steps")
        log.info("%s passed (%d spikes, APPLY_COUNT %d)", ctx, fired,
                 golden.cfg[Config.APPLY_COUNT])


@cocotb.test()
async def all_spike(dut):
    """LUT all certain, refractory 0, TAU_REF 1: every neuron fires every step."""
    await _directed(dut, all_spike_core, "all_spike", lambda p: p.neurons)


@cocotb.test()
async def none_spike(dut):
    """LUT all zeros: no neuron ever fires."""
    await _directed(dut, none_spike_core, "none_spike", lambda p: 0)


@cocotb.test()
async def access_errors(dut):
    """Refused accesses answer error = 1 and change nothing; RUN(0) does nothing."""
    tb = await _start(dut)
    p = tb.p
    golden, info = random_core(p, _env_int("SAL_SEED", 1) + 900)
    await tb.load_golden(golden)
    H = p.history
    bad = [
        ("read past CONFIG", Op.READ, Space.CONFIG, len(Config), 0),
        ("read past WEIGHT", Op.READ, Space.WEIGHT, p.axons * p.neurons, 0),
        ("read past SPIKES", Op.READ, Space.SPIKES, (p.neurons + 31) // 32, 0),
        ("read of space 15", Op.READ, 15, 0, 0),
        ("write past BIAS", Op.WRITE, Space.BIAS, p.neurons, 0),
        ("write past ACC", Op.WRITE, Space.ACC, p.axons * p.neurons, 0),
        ("write POTENTIAL (read only)", Op.WRITE, Space.POTENTIAL, 0, 0),
        ("write SPIKES (read only)", Op.WRITE, Space.SPIKES, 0, 0),
        ("write to space 15", Op.WRITE, 15, 0, 0),
        ("zero SEED", Op.WRITE, Space.SEED, 0, 0),
        ("TAU_REF 0", Op.WRITE, Space.CONFIG, Config.TAU_REF, 0),
        ("TAU_REF 256", Op.WRITE, Space.CONFIG, Config.TAU_REF, 256),
        ("TAU_SYN 0", Op.WRITE, Space.CONFIG, Config.TAU_SYN, 0),
        ("TAU_SYN H+1", Op.WRITE, Space.CONFIG, Config.TAU_SYN, H + 1),
        ("LUT_SHIFT u_bits", Op.WRITE, Space.CONFIG, Config.LUT_SHIFT, p.u_bits),
        ("APPLY_PERIOD 65536", Op.WRITE, Space.CONFIG, Config.APPLY_PERIOD, 65536),
        ("STEP_COUNT 2**32", Op.WRITE, Space.CONFIG, Config.STEP_COUNT, 1 << 32),
        ("LUT word too wide", Op.WRITE, Space.LUT, 0, 1 << p.lut_width),
        ("KERNEL word too wide", Op.WRITE, Space.KERNEL, 0, 1 << p.kernel_bits),
        ("WEIGHT word too wide", Op.WRITE, Space.WEIGHT, 0, 1 << p.weight_bits),
        ("BIAS word too wide", Op.WRITE, Space.BIAS, 0, 1 << p.bias_bits),
        ("REFRACTORY 256", Op.WRITE, Space.REFRACTORY, 0, 256),
        ("NEURON_HIST wider than H", Op.WRITE, Space.NEURON_HIST, 0, 1 << H) if H < 64 else None,
        ("RULES word too wide", Op.WRITE, Space.RULES, 0, 1 << (2 * p.gain_bits + 8)),
        ("RULES eta_s = acc_bits", Op.WRITE, Space.RULES, 1,
         (min(31, p.acc_bits)) << (2 * p.gain_bits)) if p.acc_bits <= 31 else None,
        ("unknown op 5", 5, Space.CONFIG, 0, 0),
        ("unknown op 7", 7, Space.WEIGHT, 0, 1),
    ]
    failures = []
    for case in filter(None, bad):
        name, op, space, addr, value = case
        if op == Op.WRITE and 0 <= space < 15:
            try:   # the golden model must refuse it too
                golden.write(space, addr, [value])
            except (AccessError, ValueError):
                pass
            else:
                failures.append(f"{name}: the golden model accepts it")
        data, err = await tb.command(op, space, addr, value, expect_error=None)
        if err != 1:
            failures.append(f"{name}: DUT answered error={err} data={data:#x}")
    data, err = await tb.run(0)
    log.info("RUN(0) answered data=%d error=%d", data, err)
    lines = await tb.diff(golden, WRITABLE)
    if failures or lines:
        raise AssertionError("access errors:\n  " + "\n  ".join(failures + lines))
    # Writes that must work at the edges of every range.
    edge = [(Space.CONFIG, Config.TAU_REF, 255), (Space.CONFIG, Config.TAU_SYN, H),
            (Space.CONFIG, Config.LUT_SHIFT, p.u_bits - 1),
            (Space.CONFIG, Config.STEP_COUNT, (1 << 32) - 1),
            (Space.SEED, p.neurons - 1, (1 << 32) - 1),
            (Space.NEURON_HIST, 0, (1 << H) - 1), (Space.AXON_HIST, p.axons - 1, (1 << H) - 1),
            (Space.WEIGHT, p.axons * p.neurons - 1, p.weight_range[0]),
            (Space.ACC, 0, p.acc_range[0]), (Space.BIAS, 0, p.bias_range[0]),
            (Space.SPIKE_COUNT, 0, (1 << 32) - 1),
            (Space.RULES, p.rules - 1, pack_rule(p, p.gain_range[0], p.gain_range[1],
                                                 min(31, p.acc_bits - 1), 7))]
    for space, addr, value in edge:
        golden.write(space, addr, [value])
        await tb.write(space, addr, to_word(p, space, value))
    await tb.check(golden, WRITABLE, "access_errors, after edge-of-range writes")
    await step_and_compare(tb, golden, 5, "access_errors")


@cocotb.test()
async def stream_backpressure(dut):
    """Commands with the response held back 0..5 cycles (rsp__ready low): READs of random
    words, WRITEs, RUN(1) and APPLY, all checked against the golden model."""
    tb = await _start(dut)
    p = tb.p
    seed = _env_int("SAL_SEED", 1) + 800
    golden, info = random_core(p, seed)
    log.info("stream_backpressure, state seed %d: %s", seed, describe(info))
    await tb.load_golden(golden)
    rng = np.random.default_rng(seed)
    stepped = False
    for i in range(300):
        kind = _pick_kind(rng)
        hold = int(rng.integers(0, 6))
        if kind == "read":
            spaces = READABLE if stepped else WRITABLE
            space = spaces[int(rng.integers(0, len(spaces)))]
            addr = int(rng.integers(0, space_info(p, space).depth))
            data, err = await tb.command_held(Op.READ, space, addr, 0, hold)
            want = to_word(p, space, golden.read(space, addr, 1)[0])
            assert (data, err) == (want, 0), \
                f"READ {space.name}[{addr}] with hold {hold}: got {(data, err)}, want {want}"
        elif kind == "write":
            space = [Space.WEIGHT, Space.ACC, Space.BIAS][int(rng.integers(0, 3))]
            info_ = space_info(p, space)
            addr = int(rng.integers(0, info_.depth))
            value = int(rng.integers(-(1 << (info_.bits - 1)), 1 << (info_.bits - 1)))
            golden.write(space, addr, [value])
            data, err = await tb.command_held(Op.WRITE, space, addr, to_word(p, space, value),
                                              hold)
            assert err == 0, f"WRITE {space.name}[{addr}] = {value}: error"
        elif kind == "run":
            want = golden.step()
            data, err = await tb.command_held(Op.RUN, 0, 0, 1, hold)
            stepped = True
            assert err == 0 and data > 0, f"RUN(1): {(data, err)}"
            got = await tb.read_spikes()
            assert np.array_equal(want, got), f"SPIKES differ at command {i}"
        else:
            golden.apply()
            data, err = await tb.command_held(Op.APPLY, 0, 0, 0, hold)
            assert err == 0, f"APPLY: {(data, err)}"
    await tb.check(golden, context="stream_backpressure, at the end")


def _pick_kind(rng):
    return ["read", "read", "read", "write", "run", "run", "apply"][int(rng.integers(0, 7))]


@cocotb.test(expect_error=WatchdogError)
async def watchdog_fires(dut):
    """Self-test of the watchdog: a RUN of 300 steps cannot finish within 100 cycles."""
    tb = TB(dut)
    tb.watchdog = 100
    await tb.start()
    await tb.run(300)

