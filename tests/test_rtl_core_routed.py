"""SALCore without loopback: spikes leave on ``spike_out``, axon events arrive on ``axon_in``.

A testbench plays the router: it takes every spike, delivers it to the axons
a routing function lists (repeats included, which the core must merge), and
raises ``route_done`` once the core waits and nothing is in flight.  The
golden model takes the same axon spikes through ``fire`` / ``learn``, and
every step's spikes and the final state must agree.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from sal_hw.golden.fixed import FixedCore
from sal_hw.golden.network import recurrent
from sal_hw.golden.params import CoreParams
from sal_hw.golden.quantize import quantize
from sal_hw.golden.spaces import Space, space_info
from sal_hw.rtl.command import Op
from sal_hw.rtl.core import SALCore

P = CoreParams(neurons=8, axons=8, history=8)
STEPS = 40


def routes(n):
    """Neuron n reaches axon (3n + 1) mod A twice and axon n once."""
    return [(3 * n + 1) % P.axons, (3 * n + 1) % P.axons, n % P.axons]


def golden_core(seed):
    net = recurrent(n=8, tau=3, eta=0.5, seed=seed)
    net.kernel = net.kernel[:5]
    return FixedCore(quantize(net, params=P, apply_period=9))


def word(space, value):
    info = space_info(P, space)
    return value & ((1 << info.bits) - 1) if info.signed else value


def signed(space, value):
    info = space_info(P, space)
    return value - (1 << info.bits) if info.signed and value >> (info.bits - 1) else value


@pytest.mark.parametrize("lanes", [1, 2])
def test_routed_core_matches_golden(lanes):
    gold = golden_core(seed=5)
    dut = SALCore(P, lanes=lanes, loopback=False)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    state = {"delivered": 0}

    async def command(ctx, op, space=0, addr=0, value=0):
        ctx.set(dut.cmd.valid, 1)
        ctx.set(dut.cmd.payload, {"op": op, "space": space, "addr": addr, "data": value})
        await ctx.tick().until(dut.cmd.ready)
        ctx.set(dut.cmd.valid, 0)
        ctx.set(dut.rsp.ready, 1)
        data, error = await ctx.tick().sample(dut.rsp.payload.data, dut.rsp.payload.error) \
            .until(dut.rsp.valid)
        ctx.set(dut.rsp.ready, 0)
        return data, error

    async def router(ctx):
        queue = []
        ctx.set(dut.spike_out.ready, 1)
        while True:
            ctx.set(dut.axon_in.valid, bool(queue))
            ctx.set(dut.axon_in.payload, queue[0] if queue else 0)
            took = ctx.get(dut.spike_out.valid)
            spike = ctx.get(dut.spike_out.payload)
            ctx.set(dut.route_done, ctx.get(dut.waiting) and not queue and not took)
            gave = bool(queue) and ctx.get(dut.axon_in.ready)
            await ctx.tick()   # the handshakes seen above happen at this edge
            if took:
                queue.extend(routes(spike))
            if gave:
                queue.pop(0)
                state["delivered"] += 1

    async def bench(ctx):
        for space in Space:
            if space_info(P, space).writable:
                for addr, value in enumerate(gold.read(space)):
                    _, error = await command(ctx, Op.WRITE, space, addr, word(space, value))
                    assert not error, (space, addr, value)
        for t in range(STEPS):
            spikes = gold.fire()
            axon_spikes = np.zeros(P.axons, dtype=bool)
            for n in np.flatnonzero(spikes):
                axon_spikes[routes(int(n))] = True
            gold.learn(spikes, axon_spikes)
            _, error = await command(ctx, Op.RUN, value=1)
            assert not error
            got, _ = await command(ctx, Op.READ, Space.SPIKES, 0)
            want = gold.read(Space.SPIKES, 0, 1)[0]
            assert got == want, f"step {t}: spikes {got:08b}, golden {want:08b}"
        for space in (Space.WEIGHT, Space.ACC, Space.AXON_HIST, Space.NEURON_HIST,
                      Space.POTENTIAL, Space.CONFIG):
            for addr, value in enumerate(gold.read(space)):
                got, _ = await command(ctx, Op.READ, space, addr)
                assert signed(space, got) == value, (space.name, addr)

    sim.add_testbench(router, background=True)
    sim.add_testbench(bench)
    sim.run()
    assert state["delivered"] > 0
