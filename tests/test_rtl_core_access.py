"""rtl/core.py SALCore access port through the cmd/rsp streams (docs/spec.md section 5).

Every writable space is filled with edge-biased valid words (each accepted
and read back), then every kind of bad command gets ``error = 1`` and
changes nothing: the whole readable state is read back and compared.
Words travel as the space's bits, zero-extended (rtl/command.py).
"""

import random

import pytest

from rtl_sim import run, to_bits
from sal_hw.golden.params import CoreParams
from sal_hw.golden.spaces import Config, Space, pack_rule, space_info
from sal_hw.rtl.command import Op, pack_command
from sal_hw.rtl.core import SALCore

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
CONFIGS = [(CoreParams(neurons=8, axons=8, history=8, lut_bits=4), 1),
           (CoreParams(neurons=8, axons=16, history=16, lut_bits=3, rules=4), 2),
           (CoreParams(neurons=16, axons=8, history=8, lut_bits=3), 4)]
IDS = [f"N{p.neurons}A{p.axons}H{p.history}L{L}" for p, L in CONFIGS]
READABLE = list(Space)
WRITABLE = [s for s in Space if space_info(CoreParams(), s).writable]


def config_range(p, reg):
    return {Config.TAU_REF: (1, 255), Config.TAU_SYN: (1, p.history),
            Config.LUT_SHIFT: (0, p.u_bits - 1), Config.APPLY_PERIOD: (0, 65535),
            Config.PHASE_COUNT: (0, 65535), Config.STEP_COUNT: (0, M32),
            Config.APPLY_COUNT: (0, M32)}[Config(reg)]


def valid_word(p, space, addr, rng):
    """A valid value for word ``addr`` of ``space`` (edge values often), as the bits sent."""
    info = space_info(p, space)
    if space == Space.CONFIG:
        lo, hi = config_range(p, addr)
        return rng.choice([lo, hi, rng.randint(lo, hi)])
    if space == Space.RULES:
        glo, ghi = p.gain_range
        return pack_rule(p, rng.choice([glo, ghi, rng.randint(glo, ghi)]),
                         rng.choice([glo, ghi, rng.randint(glo, ghi)]),
                         rng.choice([0, p.acc_bits - 1, rng.randrange(p.acc_bits)]),
                         rng.choice([0, 7, rng.randrange(8)]))
    if space == Space.RULE_INDEX:
        return rng.choice([0, p.rules - 1, rng.randrange(p.rules)])
    if info.signed:
        lo, hi = -(1 << (info.bits - 1)), (1 << (info.bits - 1)) - 1
        return to_bits(rng.choice([lo, hi, -1, rng.randint(lo, hi)]), info.bits)
    lo = 1 if space == Space.SEED else 0
    return rng.choice([lo, (1 << info.bits) - 1, rng.randint(lo, (1 << info.bits) - 1)])


def bad_commands(p):
    """(op, space, addr, value, why) of commands the core must refuse."""
    H = p.history
    cmds = []
    for space in Space:
        depth = space_info(p, space).depth
        ok_value = 1
        for addr in sorted({depth, depth + 1, 2 * depth, depth + 5, 1 << 16, 1 << 31, M32}):
            cmds.append((Op.READ, space, addr, 0, f"read {space.name}[{addr}] past depth"))
            if space_info(p, space).writable:
                cmds.append((Op.WRITE, space, addr, ok_value,
                             f"write {space.name}[{addr}] past depth"))
    too_wide = {
        Space.WEIGHT: [1 << p.weight_bits, M64, 1 << 63],   # M64: -1 sign-extended to 64 bits
        Space.ACC: [1 << p.acc_bits, M64],
        Space.RULE_INDEX: [p.rules, 1 << p.rule_bits, M64],
        Space.RULES: [1 << 16, M64],
        Space.BIAS: [1 << p.bias_bits, M64, (1 << 64) - (1 << (p.bias_bits - 1))],
        Space.LUT: [1 << p.lut_width, M64],
        Space.KERNEL: [1 << p.kernel_bits, M64],
        Space.SEED: [0, 1 << 32, M64],
        Space.REFRACTORY: [256, M64],
        Space.NEURON_HIST: [1 << H, M64],
        Space.AXON_HIST: [1 << H, M64],
        Space.SPIKE_COUNT: [1 << 32, M64],
    }
    for space, values in too_wide.items():
        for addr in (0, space_info(p, space).depth - 1):
            for v in values:
                cmds.append((Op.WRITE, space, addr, v, f"write {space.name}[{addr}] = {v:#x}"))
    # RULES with eta_s >= acc_bits: the carry would not fit the accumulator.
    g = p.gain_bits
    for eta in (p.acc_bits, p.acc_bits + 1, 31):
        word = 1 | (2 << g) | (eta << 2 * g) | (3 << (2 * g + 5))
        cmds.append((Op.WRITE, Space.RULES, 1, word, f"RULES eta_s = {eta}"))
    for reg in Config:
        lo, hi = config_range(p, reg)
        bad = [hi + 1, M64, 1 << 32] + ([lo - 1] if lo > 0 else [])
        for v in bad:
            cmds.append((Op.WRITE, Space.CONFIG, reg, v, f"CONFIG {reg.name} = {v:#x}"))
    cmds += [(Op.WRITE, Space.CONFIG, Config.TAU_SYN, H + 1, "TAU_SYN > history"),
             (Op.WRITE, Space.CONFIG, Config.TAU_REF, 0, "TAU_REF 0"),
             (Op.WRITE, Space.CONFIG, Config.TAU_SYN, 0, "TAU_SYN 0"),
             (Op.WRITE, Space.CONFIG, Config.LUT_SHIFT, p.u_bits, "LUT_SHIFT u_bits")]
    # Read-only spaces, an unknown space, unknown ops.
    for space in (Space.POTENTIAL, Space.SPIKES):
        for v in (0, 1):
            cmds.append((Op.WRITE, space, 0, v, f"write to read-only {space.name}"))
    cmds += [(Op.READ, 15, 0, 0, "read unknown space 15"),
             (Op.WRITE, 15, 0, 0, "write unknown space 15")]
    for op in (5, 6, 7):
        cmds += [(op, Space.WEIGHT, 0, 1, f"unknown op {op}"),
                 (op, Space.CONFIG, Config.STEP_COUNT, 0, f"unknown op {op} on CONFIG")]
    # CHECK refuses exactly what WRITE refuses.
    cmds += [(Op.CHECK, space, addr, value, f"CHECK of {why}")
             for op, space, addr, value, why in list(cmds) if op == Op.WRITE]
    return cmds


class Host:
    """Drives the core's command stream and collects responses."""

    def __init__(self, dut):
        self.dut = dut

    async def command(self, ctx, op, space=0, addr=0, value=0):
        dut = self.dut
        ctx.set(dut.cmd.payload.as_value(), pack_command(op, space, addr, value))
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick().until(dut.cmd.ready)
        ctx.set(dut.cmd.valid, 0)
        ctx.set(dut.rsp.ready, 1)
        rsp, = await ctx.tick().sample(dut.rsp.payload).until(dut.rsp.valid)
        ctx.set(dut.rsp.ready, 0)
        return rsp.data, rsp.error

    async def snapshot(self, ctx, p):
        state = {}
        for space in READABLE:
            words = []
            for addr in range(space_info(p, space).depth):
                data, err = await self.command(ctx, Op.READ, space, addr)
                assert err == 0, f"read {space.name}[{addr}] refused"
                words.append(data)
            state[space] = words
        return state


@pytest.mark.parametrize("p,L", CONFIGS, ids=IDS)
def test_refused_commands_change_nothing(p, L):
    rng = random.Random(p.axons * 7 + L)
    dut = SALCore(p, lanes=L)
    host = Host(dut)
    failures = []

    async def bench(ctx):
        # Fill every writable space with valid words; each write is accepted.
        written = {}
        for space in WRITABLE:
            words = [valid_word(p, space, a, rng) for a in range(space_info(p, space).depth)]
            for addr, w in enumerate(words):
                data, err = await host.command(ctx, Op.WRITE, space, addr, w)
                if (data, err) != (0, 0):
                    failures.append(f"valid write {space.name}[{addr}] = {w:#x}: "
                                    f"response {(data, err)}")
            written[space] = words
        before = await host.snapshot(ctx, p)
        for space, words in written.items():
            if before[space] != words:
                failures.append(f"{space.name} read back {before[space]}, wrote {words}")
        for space in (Space.POTENTIAL, Space.SPIKES):      # nothing ran yet
            if any(before[space]):
                failures.append(f"{space.name} not 0 before any step: {before[space]}")

        for op, space, addr, value, why in bad_commands(p):
            data, err = await host.command(ctx, op, space, addr, value)
            if (data, err) != (0, 1):
                failures.append(f"{why}: response (data, error) = {(data, err)}, not (0, 1)")
        # CHECK of valid words (other than those stored) accepts them and writes nothing.
        for space in WRITABLE:
            for addr in range(min(3, space_info(p, space).depth)):
                w = valid_word(p, space, addr, rng)
                data, err = await host.command(ctx, Op.CHECK, space, addr, w)
                if (data, err) != (0, 0):
                    failures.append(f"CHECK {space.name}[{addr}] = {w:#x}: {(data, err)}")
        after = await host.snapshot(ctx, p)
        for space in READABLE:
            if after[space] != before[space]:
                diff = [(a, b, c) for a, (b, c) in enumerate(zip(before[space], after[space]))
                        if b != c]
                failures.append(f"{space.name} changed by refused commands (addr, before, "
                                f"after): {diff[:8]}")

    run(dut, bench)
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("p,L", CONFIGS[:2], ids=IDS[:2])
def test_run_zero_steps(p, L):
    """RUN 0 answers 0 cycles, no error, and runs nothing (counters, seeds, histories unchanged)."""
    dut = SALCore(p, lanes=L)
    host = Host(dut)

    async def bench(ctx):
        for n in range(p.neurons):      # certain firing if a step did run
            assert await host.command(ctx, Op.WRITE, Space.SEED, n, 0x1234567 + n) == (0, 0)
        for k in range(p.lut_depth):
            assert await host.command(ctx, Op.WRITE, Space.LUT, k, p.lut_certain) == (0, 0)
        assert await host.command(ctx, Op.WRITE, Space.CONFIG, Config.STEP_COUNT, 41) == (0, 0)
        before = await host.snapshot(ctx, p)
        for _ in range(3):
            assert await host.command(ctx, Op.RUN, 0, 0, 0) == (0, 0)
        assert await host.snapshot(ctx, p) == before
        assert before[Space.CONFIG][Config.STEP_COUNT] == 41
        # Contrast: one step does change the state the snapshot compares.
        cycles, err = await host.command(ctx, Op.RUN, 0, 0, 1)
        assert err == 0 and cycles > 0
        after = await host.snapshot(ctx, p)
        assert after[Space.CONFIG][Config.STEP_COUNT] == 42
        assert after[Space.SPIKE_COUNT] == [1] * p.neurons      # the certain LUT code fired
        assert after[Space.SEED] != before[Space.SEED]

    run(dut, bench)
