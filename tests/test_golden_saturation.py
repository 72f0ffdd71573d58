"""Saturation, never wraparound: weights, accumulators, potentials and counters at both bounds.

Expected values are computed here from docs/spec.md with Python integers
(an independent re-statement of the step and the apply), never by calling
the model's own arithmetic.
"""

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sal_hw.golden.fixed import FixedCore
from sal_hw.golden.params import CoreParams
from sal_hw.golden.spaces import Config, Space, pack_rule


def clip(x, lo, hi):
    return min(max(x, lo), hi)


def bit(word, k):
    return (word >> k) & 1


def near_bounds(lo, hi, width=3):
    """Integers in lo..hi, mostly right at either bound."""
    return st.one_of(st.integers(lo, lo + width), st.integers(hi - width, hi), st.integers(lo, hi))


def write_rules(core, rules):
    core.write(Space.RULES, 0, [pack_rule(core.p, *r) for r in rules])


# -- weights at apply ----------------------------------------------------------

WP = CoreParams(neurons=3, axons=4, rules=4)


@settings(max_examples=150)
@given(data=st.data(), via=st.sampled_from(["host", "period"]))
def test_apply_saturates_weights(core_image, data, via):
    p = WP
    A, N = p.axons, p.neurons
    wlo, whi = p.weight_range
    alo, ahi = p.acc_range
    # eta_s 0 .. acc_bits - 1 (spec section 5), so the carry always fits the accumulator
    shifts = data.draw(st.lists(st.integers(0, p.acc_bits - 1), min_size=p.rules, max_size=p.rules))
    core = FixedCore(core_image(p, config={Config.APPLY_PERIOD: 1 if via == "period" else 0}))
    # gains 0: no accumulation, so the step's apply sees exactly the written accumulators
    write_rules(core, [(0, 0, s, 0) for s in shifts])
    rule_idx = data.draw(st.lists(st.integers(0, p.rules - 1), min_size=A * N, max_size=A * N))
    core.write(Space.RULE_INDEX, 0, rule_idx)
    w = data.draw(st.lists(near_bounds(wlo, whi), min_size=A * N, max_size=A * N))
    core.write(Space.WEIGHT, 0, w)
    for _ in range(3):   # repeated applies: a saturated weight stays saturated, no wrap
        acc = data.draw(st.lists(near_bounds(alo, ahi, 40), min_size=A * N, max_size=A * N))
        core.write(Space.ACC, 0, acc)
        if via == "host":
            core.apply()
        else:
            core.step()
        exp_w, exp_acc = [], []
        for i in range(A * N):
            s = shifts[rule_idx[i]]
            dw = acc[i] // 2 ** s                      # floor division = arithmetic shift
            exp_w.append(clip(w[i] + dw, wlo, whi))
            if not wlo <= w[i] + dw <= whi:
                event(f"w saturated {'high' if w[i] + dw > whi else 'low'}")
            exp_acc.append(acc[i] - dw * 2 ** s)
            assert 0 <= exp_acc[-1] < 2 ** s
        assert core.read(Space.WEIGHT) == exp_w
        assert core.read(Space.ACC) == exp_acc
        w = exp_w
    assert core.read(Space.CONFIG, int(Config.APPLY_COUNT), 1) == [3]
    assert core.read(Space.CONFIG, int(Config.PHASE_COUNT), 1) == [0]


@pytest.mark.parametrize("sign", [1, -1])
def test_weight_pinned_at_bound(core_image, sign):
    """Push a weight with the largest accumulators again and again: it sits at the bound, exactly."""
    p = WP
    wlo, whi = p.weight_range
    alo, ahi = p.acc_range
    core = FixedCore(core_image(p))
    write_rules(core, [(0, 0, 0, 0)])
    start = whi - 5 if sign > 0 else wlo + 5
    core.write(Space.WEIGHT, 0, [start] * (p.axons * p.neurons))
    for k in range(4):
        core.write(Space.ACC, 0, [ahi if sign > 0 else alo] * (p.axons * p.neurons))
        core.apply()
        assert set(core.read(Space.WEIGHT)) == {whi if sign > 0 else wlo}
        assert set(core.read(Space.ACC)) == {0}      # eta_s 0: everything moved, nothing kept
    # and it comes off the bound by exactly the update
    core.write(Space.ACC, 0, [-3 * sign] * (p.axons * p.neurons))
    core.apply()
    assert set(core.read(Space.WEIGHT)) == {(whi - 3) if sign > 0 else (wlo + 3)}


# -- accumulators ----------------------------------------------------------------

AP = CoreParams(neurons=4, axons=4, history=16, rules=4)


def firing_core(core_image, p, fires, tau_ref=1, apply_period=0):
    """Weights 0, LUT certain for u >= 0 and 0 below; bias 0 (fires) or -256 (silent)."""
    half = p.lut_depth // 2
    lut = [p.lut_certain if k >= half else 0 for k in range(p.lut_depth)]
    bias = [0 if f else -256 for f in fires]
    return FixedCore(core_image(p, lut=lut, bias=bias,
                                config={Config.TAU_REF: tau_ref, Config.LUT_SHIFT: 8,
                                        Config.APPLY_PERIOD: apply_period}))


@settings(max_examples=120)
@given(st.data())
def test_accumulators_saturate(core_image, data):
    p = AP
    A, N, H = p.axons, p.neurons, p.history
    glo, ghi = p.gain_range
    alo, ahi = p.acc_range
    kmax = (1 << p.kernel_bits) - 1
    gains = st.one_of(st.sampled_from([glo, ghi, -1, 1, 0]), st.integers(glo, ghi))
    rules = [(data.draw(gains), data.draw(gains), 0, 0) for _ in range(p.rules)]
    fires = data.draw(st.lists(st.booleans(), min_size=N, max_size=N))
    tau_ref = data.draw(st.integers(1, 4))
    core = firing_core(core_image, p, fires, tau_ref)
    write_rules(core, rules)
    rule_idx = data.draw(st.lists(st.integers(0, p.rules - 1), min_size=A * N, max_size=A * N))
    core.write(Space.RULE_INDEX, 0, rule_idx)
    kernel = data.draw(st.lists(st.one_of(st.just(kmax), st.integers(0, kmax)),
                                min_size=H, max_size=H))
    core.write(Space.KERNEL, 0, kernel)
    acc = data.draw(st.lists(near_bounds(alo, ahi, 1000), min_size=A * N, max_size=A * N))
    core.write(Space.ACC, 0, acc)
    nhist = data.draw(st.lists(st.integers(0, 2 ** H - 1), min_size=N, max_size=N))
    ahist = data.draw(st.lists(st.integers(0, 2 ** H - 1), min_size=A, max_size=A))
    refr = data.draw(st.lists(st.integers(0, 3), min_size=N, max_size=N))
    core.write(Space.NEURON_HIST, 0, nhist)
    core.write(Space.AXON_HIST, 0, ahist)
    core.write(Space.REFRACTORY, 0, refr)

    def trace(word):
        return sum(kernel[k - 1] * bit(word, k - 1) for k in range(1, H + 1))

    hit = set()
    for _ in range(6):
        s_n = [fires[n] and refr[n] == 0 for n in range(N)]
        refr = [tau_ref - 1 if s_n[n] else max(refr[n] - 1, 0) for n in range(N)]
        s_a = [s_n[a] for a in range(A)]               # axon a carries neuron a
        X = [trace(ahist[a]) for a in range(A)]
        Y = [trace(nhist[n]) for n in range(N)]
        for a in range(A):
            for n in range(N):
                i = a * N + n
                cc, ca = rules[rule_idx[i]][:2]
                exact = acc[i] + cc * s_n[n] * X[a] + ca * s_a[a] * Y[n]
                acc[i] = clip(exact, alo, ahi)
                if exact > ahi:
                    hit.add("hi")
                if exact < alo:
                    hit.add("lo")
        for side in sorted(hit):
            event(f"acc saturated at {side}")
        nhist = [((w << 1) | s) & (2 ** H - 1) for w, s in zip(nhist, s_n)]
        ahist = [((w << 1) | s) & (2 ** H - 1) for w, s in zip(ahist, s_a)]
        spikes = core.step()
        assert [bool(x) for x in spikes] == s_n
        got = core.read(Space.ACC)
        assert all(alo <= v <= ahi for v in got)
        assert got == acc
        assert core.read(Space.REFRACTORY) == refr
    assert core.read(Space.NEURON_HIST) == nhist


@pytest.mark.parametrize("gain", [-8, 7])
def test_accumulator_pinned_at_bound(core_image, gain):
    """Largest kernel and gains, every neuron firing every step: acc sits exactly at the bound."""
    p = AP
    A, N, H = p.axons, p.neurons, p.history
    alo, ahi = p.acc_range
    kmax = (1 << p.kernel_bits) - 1
    assert p.gain_range == (-8, 7)
    core = firing_core(core_image, p, [True] * N)
    write_rules(core, [(0, 0, 0, 0), (gain, gain, 0, 0)])
    core.write(Space.RULE_INDEX, 0, [1] * (A * N))
    core.write(Space.KERNEL, 0, [kmax] * H)
    bound = ahi if gain > 0 else alo
    expect = 0
    for t in range(1, 25):
        assert core.step().all()
        # before step t the histories hold t-1 spikes (at most H): X = Y = kmax * min(t-1, H)
        taps = min(t - 1, H)
        expect = clip(expect + 2 * gain * kmax * taps, alo, ahi)
        assert set(core.read(Space.ACC)) == {expect}
    assert expect == bound
    # the unsaturated sum would have been far beyond the bound: 2 * gain * kmax * H per step
    assert abs(2 * gain * kmax * H) > 2 ** (p.acc_bits - 1)
    # from the bound, one opposite step comes back by exactly its size (no wrap, no stickiness)
    write_rules(core, [(0, 0, 0, 0), (-1 if gain > 0 else 1, 0, 0, 0)])
    core.step()
    assert set(core.read(Space.ACC)) == {bound - (1 if gain > 0 else -1) * kmax * H}


# -- potentials --------------------------------------------------------------------

UP = CoreParams(neurons=3, axons=40, history=16)


@settings(max_examples=80)
@given(st.data())
def test_potential_saturates(core_image, data):
    """u = sat(b + sum_a psp_a * (w << w_exp)) over several steps with PSPs starting and ending."""
    p = UP
    A, N, H = p.axons, p.neurons, p.history
    ulo, uhi = p.u_range
    wlo, whi = p.weight_range
    blo, bhi = p.bias_range
    # "strong": every synapse at w_exp 7 with a weight near the bound of one sign and
    # every PSP on, so |b + I| surely leaves the u range; otherwise anything goes.
    strong = data.draw(st.booleans())
    sign = data.draw(st.sampled_from([1, -1]))
    tau_syn = data.draw(st.integers(1, H))
    near = near_bounds(whi - 10, whi) if sign > 0 else near_bounds(wlo, wlo + 10)
    wexp_s = st.just(7) if strong else st.integers(0, 7)
    wstrat = near if strong else st.one_of(near, st.integers(wlo, whi))
    wexps = data.draw(st.lists(wexp_s, min_size=p.rules, max_size=p.rules))
    core = FixedCore(core_image(p, config={Config.TAU_SYN: tau_syn}))   # LUT 0: no spikes
    write_rules(core, [(0, 0, 0, e) for e in wexps])
    rule_idx = data.draw(st.lists(st.integers(0, p.rules - 1), min_size=A * N, max_size=A * N))
    core.write(Space.RULE_INDEX, 0, rule_idx)
    w = data.draw(st.lists(wstrat, min_size=A * N, max_size=A * N))
    core.write(Space.WEIGHT, 0, w)
    bias = data.draw(st.lists(st.sampled_from([blo, bhi, 0]) | st.integers(blo, bhi),
                              min_size=N, max_size=N))
    core.write(Space.BIAS, 0, bias)
    words = st.integers(0, 2 ** H - 1)
    ahist = data.draw(st.lists(words.map(lambda x: x | 1) if strong else words | st.just(1),
                               min_size=A, max_size=A))
    core.write(Space.AXON_HIST, 0, ahist)
    for t in range(5):
        inject = data.draw(st.lists(st.integers(0, A - 1), max_size=A, unique=True))
        if t == 3:
            # an apply in between: the potential follows the new weights
            acc = data.draw(st.lists(st.integers(-300, 300), min_size=A * N, max_size=A * N))
            core.write(Space.ACC, 0, acc)
            core.apply()
            w = [clip(w[i] + acc[i], wlo, whi) for i in range(A * N)]   # eta_s 0
        psp = [(ahist[a] & (2 ** tau_syn - 1)) != 0 for a in range(A)]
        expect = []
        for n in range(N):
            total = sum(w[a * N + n] * 2 ** wexps[rule_idx[a * N + n]] for a in range(A) if psp[a])
            expect.append(clip(bias[n] + total, ulo, uhi))
            if not ulo <= bias[n] + total <= uhi:
                event(f"u saturated {'high' if bias[n] + total > uhi else 'low'}")
        spikes = core.step(inject=np.array(inject, dtype=np.int64))
        assert not spikes.any()
        assert core.read(Space.POTENTIAL) == expect
        ahist = [((ahist[a] << 1) | (a in inject)) & (2 ** H - 1) for a in range(A)]
    assert core.read(Space.AXON_HIST) == ahist


@pytest.mark.parametrize("sign", [1, -1])
def test_potential_pinned_at_bound(core_image, sign):
    """All 40 PSPs on at w = +-max, w_exp 7, extreme bias: |b + I| > 2**19, u sits at the bound,
    and the LUT sees the saturated (not wrapped) value."""
    p = UP
    A, N = p.axons, p.neurons
    ulo, uhi = p.u_range
    wlo, whi = p.weight_range
    blo, bhi = p.bias_range
    wcode, bias = (whi, bhi) if sign > 0 else (wlo, blo)
    exact = bias + A * wcode * 2 ** 7
    assert exact > uhi if sign > 0 else exact < ulo
    # LUT: certain only in the top bin (sign > 0) or only in the bottom bin (sign < 0)
    lut = [0] * p.lut_depth
    lut[-1 if sign > 0 else 0] = p.lut_certain
    core = FixedCore(core_image(p, lut=lut, weight=wcode, bias=bias, rule_index=1,
                                rules=[(0, 0, 0, 0), (0, 0, 0, 7)],
                                config={Config.TAU_SYN: 4, Config.TAU_REF: 200}))
    core.write(Space.AXON_HIST, 0, [1] * A)
    spikes = core.step()
    assert core.read(Space.POTENTIAL) == [uhi if sign > 0 else ulo] * N
    assert spikes.all()
    # three more steps: the PSPs last TAU_SYN = 4 steps, so still pinned
    for _ in range(3):
        core.step()
        assert core.read(Space.POTENTIAL) == [uhi if sign > 0 else ulo] * N
    # then the written PSPs end; axons 0..2 carry the neurons' own spikes of the
    # first step, whose PSPs last one step longer (TAU_REF 200: no second spike)
    core.step()
    assert core.read(Space.POTENTIAL) == [clip(bias + 3 * wcode * 2 ** 7, ulo, uhi)] * N
    core.step()
    assert core.read(Space.POTENTIAL) == [bias] * N


# -- counters -----------------------------------------------------------------------

def test_counters_saturate(core_image):
    p = AP
    top32 = 2 ** 32 - 1
    core = firing_core(core_image, p, [True, True, False, False], tau_ref=3)
    core.write(Space.SPIKE_COUNT, 0, [top32, top32 - 1, top32, 0])
    core.write(Space.CONFIG, int(Config.PHASE_COUNT), [65534, top32 - 1, top32 - 1])
    counts = [top32, top32 - 1, top32, 0]
    refr_seen = []
    for t in range(6):
        s = core.step()
        counts = [min(c + int(x), top32) for c, x in zip(counts, s)]
        assert core.read(Space.SPIKE_COUNT) == counts
        refr_seen.append(core.read(Space.REFRACTORY))
        cfg = core.read(Space.CONFIG)
        assert cfg[Config.PHASE_COUNT] == 65535
        assert cfg[Config.STEP_COUNT] == top32
    assert counts == [top32, top32, top32, 0]
    core.apply()
    assert core.read(Space.CONFIG, int(Config.APPLY_COUNT), 1) == [top32]
    core.apply()
    assert core.read(Space.CONFIG, int(Config.APPLY_COUNT), 1) == [top32]
    # refractory: fires at t=0, counts 2, 1, 0, fires again...; silent neurons stay at 0
    assert [r[0] for r in refr_seen] == [2, 1, 0, 2, 1, 0]
    assert [r[2] for r in refr_seen] == [0] * 6
