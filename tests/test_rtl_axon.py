"""rtl/axon.py AxonUnit: axon history shift, PSP flags, ends, resync and pre trace X.

One axon per cycle (``valid``, ``a``; ``spike`` = s_a(t) a cycle later), streamed with
bubbles as the core drives the unit: an axon entering in cycle c has
``x_valid``/``x_a``/``x`` and ``end`` in cycle c + AXON_LATENCY (and no other
cycle has ``x_valid`` or ``end``); its PSP flag for the next step is updated at the
end of cycle c + 3, so ``psp_next``, checked in every cycle, shows it from cycle
c + 4 on, while ``psp`` keeps the flags of the step before the pass until
``commit`` (the core's row walks read them during the pass).
Access reads give the data two cycles after the address.  Python model of
docs/spec.md section 3 (steps 1 and 5) as the unit computes it for the
*next* step:

    new  = hist if resync else ((hist << 1) | s_a) & (2^H - 1)
    psp  = any of new[1 .. TAU_SYN]      (bits 0 .. TAU_SYN - 1)
    end  = psp if resync else (psp_before and not psp)
    X    = sum_k K[k] new[k]
"""

import random

import pytest

from rtl_sim import access_read, access_write, run, stream
from sal_hw.golden.params import CoreParams
from sal_hw.golden.spaces import Space
from sal_hw.rtl.axon import AXON_LATENCY, AxonUnit

P_WIDE = CoreParams(neurons=8, axons=16, history=8)
P_DEEP = CoreParams(neurons=8, axons=8, history=16, kernel_bits=12)
PSP_SHOWN = 4       # cycles from ``valid`` to the first cycle whose ``psp`` has the axon's flag


class Model:
    def __init__(self, p, hist):
        self.p = p
        self.hist = list(hist)
        self.psp = [0] * p.axons          # the unit's flags start cleared
        self.committed = [0] * p.axons    # ``psp``: the flags at the last commit

    def axon(self, a, spike, resync, tau_syn, kernel):
        H = self.p.history
        old = self.hist[a]
        new = old if resync else ((old << 1) | spike) & ((1 << H) - 1)
        psp = int(new & ((1 << tau_syn) - 1) != 0)
        end = psp if resync else int(self.psp[a] and not psp)
        x = sum(kernel[k - 1] for k in range(1, H + 1) if new >> (k - 1) & 1)
        self.hist[a] = new
        self.psp[a] = psp
        return x, end

    def psp_word(self, flags=None):
        return sum(f << a for a, f in enumerate(self.psp if flags is None else flags))

    def commit(self):
        self.committed = list(self.psp)


def simulate(p, model, passes, *, check_pass=None):
    """``passes``: dicts with order (axons, None = bubble), spikes, resync, tau_syn, kernel."""
    dut = AxonUnit(p)
    port = dut.access
    A = p.axons
    failures = []

    async def check_memory(ctx, write):
        for a in range(A):
            if write:
                await access_write(ctx, port, Space.AXON_HIST, a, model.hist[a])
            if (got := await access_read(ctx, port, Space.AXON_HIST, a)) != model.hist[a]:
                failures.append(f"AXON_HIST[{a}]: expected {model.hist[a]:#x}, got {got:#x}")

    async def bench(ctx):
        ctx.set(dut.valid, 0)
        await check_memory(ctx, write=True)
        for t, ps in enumerate(passes):
            ctx.set(dut.resync, ps["resync"])
            ctx.set(dut.tau_syn, ps["tau_syn"])
            ctx.set(dut.kernel, ps["kernel"])
            ends = []

            def enter(a, memo):
                ctx.set(dut.valid, a is not None)
                ctx.set(dut.a, 0 if a is None else a)

            def give_spike(a, memo):     # one cycle after ``valid``
                ctx.set(dut.spike, 0 if a is None else ps["spikes"][a])

            def step_model(a, memo):
                if a is not None:
                    memo["x"], memo["end"] = model.axon(a, ps["spikes"][a], ps["resync"],
                                                        ps["tau_syn"], ps["kernel"])
                    ends.extend([a] * memo["end"])

            def check_psp(a, memo):
                if ctx.get(dut.psp_next) != model.psp_word():
                    failures.append(f"pass {t}: psp_next {ctx.get(dut.psp_next):#x}, "
                                    f"expected {model.psp_word():#x}")
                if ctx.get(dut.psp) != model.psp_word(model.committed):
                    failures.append(f"pass {t}: psp {ctx.get(dut.psp):#x} changed before "
                                    f"the commit, expected {model.psp_word(model.committed):#x}")

            def check_outputs(a, memo):
                got = (ctx.get(dut.x_valid), ctx.get(dut.x_a), ctx.get(dut.x), ctx.get(dut.end))
                if a is None:
                    if got[0] or got[3]:
                        failures.append(f"pass {t}: x_valid/end without an axon")
                elif got != (1, a, memo["x"], memo["end"]):
                    failures.append(f"pass {t} axon {a}: (valid, a, x, end) expected "
                                    f"{(1, a, memo['x'], memo['end'])}, got {got}")

            await stream(ctx, ps["order"], [
                (0, enter), (1, give_spike), (PSP_SHOWN, step_model), (PSP_SHOWN, check_psp),
                (AXON_LATENCY, check_outputs)])
            ctx.set(dut.commit, 1)
            await ctx.tick()
            ctx.set(dut.commit, 0)
            model.commit()
            if ctx.get(dut.psp) != model.psp_word():
                failures.append(f"after pass {t}: psp {ctx.get(dut.psp):#x}, "
                                f"expected {model.psp_word():#x}")
            if check_pass:
                check_pass(t, ends, model)
        await check_memory(ctx, write=False)
        for space in (Space.NEURON_HIST, Space.WEIGHT, Space.CONFIG):
            if (got := await access_read(ctx, port, space, 1)) != 0:
                failures.append(f"{space.name} read gave {got:#x}, not 0")

    run(dut, bench)
    assert not failures, "\n".join(failures[:12])


def a_pass(p, rng, *, resync=0, tau_syn=None, order=None, rate=0.3):
    A, H = p.axons, p.history
    if order is None:
        order = list(range(A))
        rng.shuffle(order)
        if rng.random() < 0.5:
            order.insert(rng.randrange(A), None)
    return dict(order=order, spikes=[int(rng.random() < rate) for _ in range(A)], resync=resync,
                tau_syn=tau_syn if tau_syn is not None else rng.randint(1, H),
                kernel=[rng.randrange(1 << p.kernel_bits) for _ in range(H)])


@pytest.mark.parametrize("p", [P_WIDE, P_DEEP], ids=["A16H8", "A8H16"])
def test_random_passes_with_resyncs(p):
    rng = random.Random(p.axons + p.history)
    H = p.history
    model = Model(p, [rng.choice([0, (1 << H) - 1, 1, 1 << (H - 1), rng.getrandbits(H)])
                      for _ in range(p.axons)])
    passes = [a_pass(p, rng, resync=1, tau_syn=3, order=list(range(p.axons)))]
    passes += [a_pass(p, rng, tau_syn=3) for _ in range(4)]
    passes += [a_pass(p, rng, tau_syn=1), a_pass(p, rng, tau_syn=H, rate=0.05)]
    passes += [a_pass(p, rng, resync=1, tau_syn=2)]             # TAU_SYN changed: resync
    passes += [a_pass(p, rng, tau_syn=2, rate=r) for r in (0.0, 0.0, 0.5, 1.0, 0.0)]
    passes += [a_pass(p, rng, resync=1, tau_syn=H)]
    passes += [a_pass(p, rng, tau_syn=H, rate=0.0) for _ in range(H + 1)]
    hist_before_resync = {}

    def check(t, ends, m):
        if passes[t]["resync"]:
            # Resync lists every active PSP and leaves the histories alone.
            assert sorted(ends) == [a for a in range(p.axons) if m.psp[a]]
            assert m.hist == hist_before_resync.get(t, m.hist)
        hist_before_resync[t + 1] = list(m.hist)

    simulate(p, model, passes, check_pass=check)
    assert model.hist == [0] * p.axons    # H + 1 silent passes shift everything out


@pytest.mark.parametrize("tau_syn", [1, 2, 5, 8])
def test_psp_lasts_tau_syn_steps(tau_syn):
    """A single spike: PSP flag for exactly TAU_SYN steps, one end flag in the step after."""
    p = P_WIDE
    H, A = p.history, p.axons
    rng = random.Random(tau_syn)
    model = Model(p, [0] * A)
    kernel = [rng.randrange(1, 256) for _ in range(H)]
    passes = []
    for t in range(H + 2):
        spikes = [0] * A
        if t == 0:
            spikes[3] = spikes[A - 1] = 1
        if t == 1:
            spikes[A - 1] = 1            # a second spike extends only axon A-1's PSP
        passes.append(dict(order=list(range(A)), spikes=spikes, resync=0, tau_syn=tau_syn,
                           kernel=kernel))
    flags, end_at = [], {3: [], A - 1: []}

    def check(t, ends, m):
        flags.append((m.psp[3], m.psp[A - 1]))
        for a in ends:
            end_at[a].append(t)

    simulate(p, model, passes, check_pass=check)
    assert [f[0] for f in flags] == [1] * tau_syn + [0] * (H + 2 - tau_syn)
    assert [f[1] for f in flags] == [1] * (tau_syn + 1) + [0] * (H + 1 - tau_syn)
    assert end_at == {3: [tau_syn], A - 1: [tau_syn + 1]}
