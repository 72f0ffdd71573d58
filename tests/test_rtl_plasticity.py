"""rtl/plasticity.py PlasticityUnit: every Work kind against docs/spec.md sections 3 and 4.

Pipelined (module docstring): inputs presented in cycle c give ``syn_wr``,
``syn_we``, ``isyn_wr`` and ``isyn_we`` in cycle c + PLASTICITY_STAGES.  The
tests stream the unit as the core drives it, a new input every cycle: every
(case, Work kind) pair once, in a shuffled order, so that back-to-back
inputs differ in their Work kind and in their data, and each output is
checked PLASTICITY_STAGES cycles after its input.  The expectation of every
lane is computed here from the spec formulas, with the rule fields taken
from the tuples the rule words were packed from (golden.spaces.pack_rule).
"""

import random

import pytest

from rtl_sim import run, sat, stream
from sal_hw.golden.params import CoreParams
from sal_hw.golden.spaces import pack_rule
from sal_hw.rtl.plasticity import PLASTICITY_STAGES, SYN_INPUT_BITS, PlasticityUnit, Work
from sal_hw.rtl.trace import trace_width

DEFAULT = CoreParams(neurons=8, axons=8, history=8)
# Narrow weights/accumulators, few rules, deep history with wide kernel taps (big traces).
NARROW = CoreParams(neurons=8, axons=8, history=64, kernel_bits=16, weight_bits=6, acc_bits=10,
                    gain_bits=3, rules=4)
CONFIGS = [(DEFAULT, 1), (DEFAULT, 2), (DEFAULT, 4), (NARROW, 2)]
IDS = ["default-L1", "default-L2", "default-L4", "narrow-L2"]


def tw(p):
    return trace_width(p.history, p.kernel_bits)


def spec_lane(p, work, word, rule, *, y, x_row, x_col, post, pre, start, psp, isyn):
    """(syn word written, syn we, isyn written, isyn we) of one lane; None = not checked."""
    weight, acc, rix = word
    gc, ga, eta_s, wexp = rule
    if work == Work.ROW:
        acc_new = sat(acc + ga * y + (gc * x_row if post else 0), p.acc_bits)   # one saturation
        return (weight, acc_new, rix), 1, isyn + (weight << wexp), int(start)
    if work == Work.COLUMN:
        acc_new = sat(acc + gc * x_col, p.acc_bits)
        return (weight, acc_new, rix), int(not pre), None, 0
    if work == Work.END:
        return None, 0, isyn - (weight << wexp), 1
    if work == Work.ADD:
        return None, 0, isyn + (weight << wexp), 1
    if work == Work.APPLY:
        dw = acc >> eta_s                       # floor
        carry = acc - (dw << eta_s)
        assert 0 <= carry < (1 << eta_s)
        w_new = sat(weight + dw, p.weight_bits)
        return (w_new, carry, rix), 1, isyn + ((w_new - weight) << wexp), int(psp)
    assert work == Work.NONE
    return None, 0, None, 0


def random_rule(p, rng):
    glo, ghi = p.gain_range
    eta_max = p.acc_bits - 1
    return (rng.choice([glo, ghi, -1, 0, 1, rng.randint(glo, ghi)]),
            rng.choice([glo, ghi, -1, 0, 1, rng.randint(glo, ghi)]),
            rng.choice([0, 1, eta_max, rng.randint(0, eta_max)]),
            rng.choice([0, 7, rng.randint(0, 7)]))


def edge_pick(rng, lo, hi):
    return rng.choice([lo, lo + 1, hi, hi - 1, 0, -1 if lo < 0 else 1,
                       rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo // 16, hi // 16)])


def random_case(p, L, rng, rules):
    tmax = (1 << tw(p)) - 1
    lanes = []
    for _ in range(L):
        lanes.append(dict(
            word=(edge_pick(rng, *p.weight_range), edge_pick(rng, *p.acc_range),
                  rng.randrange(p.rules)),
            y=rng.choice([0, tmax, rng.randrange(tmax + 1)]),
            x_col=rng.choice([0, tmax, rng.randrange(tmax + 1)]),
            isyn=rng.randint(-(1 << 24), 1 << 24)))
    return dict(lanes=lanes, rules=rules, x_row=rng.choice([0, tmax, rng.randrange(tmax + 1)]),
                post=rng.randrange(1 << L), pre=rng.randrange(1 << L),
                start=rng.randrange(2), psp=rng.randrange(2))


def check(p, L, cases, works=tuple(Work)):
    """Stream every case with every Work kind through one simulation; compare each lane."""
    dut = PlasticityUnit(p, L, tw(p))
    failures = []
    items = [(ci, work) for ci in range(len(cases)) for work in works]
    random.Random(len(items)).shuffle(items)
    if len(works) > 1:    # back to back: every ordered pair of kinds, given enough cases
        pairs = {(a[1], b[1]) for a, b in zip(items, items[1:])}
        assert len(cases) < 20 or len(pairs) == len(works) ** 2, "kind pairs missing"
        assert any(a != b for a, b in pairs), "no back-to-back kinds"

    async def bench(ctx):
        def drive(item, memo):
            if item is None:
                ctx.set(dut.work, Work.NONE)
                return
            ci, work = item
            case = cases[ci]
            ctx.set(dut.work, work)
            ctx.set(dut.rules, [pack_rule(p, *r) for r in case["rules"]])
            ctx.set(dut.x_row, case["x_row"])
            ctx.set(dut.post_spike, case["post"])
            ctx.set(dut.pre_spike, case["pre"])
            ctx.set(dut.start, case["start"])
            ctx.set(dut.psp, case["psp"])
            for j, lane in enumerate(case["lanes"]):
                w, a, r = lane["word"]
                ctx.set(dut.syn[j], {"weight": w, "acc": a, "rule": r})
                ctx.set(dut.y[j], lane["y"])
                ctx.set(dut.x_col[j], lane["x_col"])
                ctx.set(dut.isyn[j], lane["isyn"])

        def compare(item, memo):
            syn_we = ctx.get(dut.syn_we)
            isyn_we = ctx.get(dut.isyn_we)
            if item is None:      # a bubble (Work.NONE) writes nothing
                if syn_we or isyn_we:
                    failures.append(f"no input: we {(syn_we, isyn_we)}")
                return
            ci, work = item
            case = cases[ci]
            for j, lane in enumerate(case["lanes"]):
                e_word, e_swe, e_isyn, e_iwe = spec_lane(
                    p, work, lane["word"], case["rules"][lane["word"][2]], y=lane["y"],
                    x_row=case["x_row"], x_col=lane["x_col"], post=case["post"] >> j & 1,
                    pre=case["pre"] >> j & 1, start=case["start"], psp=case["psp"],
                    isyn=lane["isyn"])
                got_word = (ctx.get(dut.syn_wr[j].weight), ctx.get(dut.syn_wr[j].acc),
                            ctx.get(dut.syn_wr[j].rule))
                got = (syn_we >> j & 1, isyn_we >> j & 1)
                if got != (e_swe, e_iwe) or (e_swe and got_word != e_word) \
                        or (e_iwe and ctx.get(dut.isyn_wr[j]) != e_isyn):
                    failures.append(f"case {ci} {work.name} lane {j}: in {lane} "
                                    f"rule {case['rules'][lane['word'][2]]} x_row "
                                    f"{case['x_row']} post {case['post']} pre {case['pre']}"
                                    f" start {case['start']} psp {case['psp']}: expected "
                                    f"we {(e_swe, e_iwe)} word {e_word} isyn {e_isyn}, got "
                                    f"we {got} word {got_word} isyn "
                                    f"{ctx.get(dut.isyn_wr[j])}")

        await stream(ctx, items, [(0, drive), (PLASTICITY_STAGES, compare)])

    run(dut, bench)
    assert not failures, "\n".join(failures[:10])


def lane(p, word, y=0, x_col=0, isyn=0):
    return dict(word=word, y=y, x_col=x_col, isyn=isyn)


def case(p, L, lanes, rules, x_row=0, post=0, pre=0, start=0, psp=0):
    lanes = (lanes * L)[:L]
    rules = list(rules) + [(0, 0, 0, 0)] * (p.rules - len(rules))
    return dict(lanes=lanes, rules=rules, x_row=x_row, post=post, pre=pre, start=start, psp=psp)


@pytest.mark.parametrize("p,L", CONFIGS, ids=IDS)
def test_random_every_work_kind(p, L):
    rng = random.Random(L * 31 + p.acc_bits)
    cases = []
    for _ in range(150):
        rules = [random_rule(p, rng) for _ in range(p.rules)]
        cases.append(random_case(p, L, rng, rules))
    check(p, L, cases)


@pytest.mark.parametrize("p,L", CONFIGS, ids=IDS)
def test_accumulator_saturation(p, L):
    alo, ahi = p.acc_range
    glo, ghi = p.gain_range
    tmax = (1 << tw(p)) - 1
    half = min(tmax, ahi // 2)
    R = [(0, 0, 0, 0), (glo, ghi, 0, 0), (ghi, glo, 0, 0), (ghi, ghi, 0, 0), (glo, glo, 0, 0),
         (1, 1, 0, 0), (-1, -1, 0, 0)]
    R = R[:p.rules] if p.rules >= len(R) else [R[0], R[3], R[4], R[1]]
    rmax = [i for i, r in enumerate(R) if r[:2] == (ghi, ghi)][0]
    rmin = [i for i, r in enumerate(R) if r[:2] == (glo, glo)][0]
    rmix = [i for i, r in enumerate(R) if r[:2] == (glo, ghi)][0]
    cases = [
        # Upper bound: both terms positive, from the top and from just below.
        case(p, L, [lane(p, (0, ahi, rmax), y=tmax, x_col=tmax)], R, x_row=tmax, post=-1),
        case(p, L, [lane(p, (0, ahi - 1, rmax), y=1, x_col=1)], R, x_row=1, post=-1),
        case(p, L, [lane(p, (0, ahi - 3, rmax), y=1, x_col=1)], R, x_row=0, post=-1),
        # Lower bound.
        case(p, L, [lane(p, (0, alo, rmin), y=tmax, x_col=tmax)], R, x_row=tmax, post=-1),
        case(p, L, [lane(p, (0, alo + 1, rmin), y=1, x_col=1)], R, x_row=1, post=-1),
        # Opposite terms cancel before the single saturation (spec section 3, step 4):
        # c_causal = glo, c_anticausal = ghi, X = Y: acc moves by (ghi + glo) * T = -T.
        case(p, L, [lane(p, (0, ahi, rmix), y=tmax, x_col=tmax)], R, x_row=tmax, post=-1),
        case(p, L, [lane(p, (0, alo + half + 5, rmix), y=half)], R, x_row=half, post=-1),
        # The same lanes without a post spike: the causal term is not added.
        case(p, L, [lane(p, (0, ahi, rmix), y=tmax, x_col=tmax)], R, x_row=tmax, post=0),
        # Zero traces leave the accumulator exactly where it is, even at the bounds.
        case(p, L, [lane(p, (0, alo, rmax)), lane(p, (0, ahi, rmin))], R, post=-1),
    ]
    for c in cases:
        c["post"] &= (1 << L) - 1
    check(p, L, cases, works=(Work.ROW, Work.COLUMN))


@pytest.mark.parametrize("p,L", CONFIGS, ids=IDS)
def test_apply_carry_and_weight_saturation(p, L):
    alo, ahi = p.acc_range
    wlo, whi = p.weight_range
    eta_max = p.acc_bits - 1
    R = [(0, 0, 0, 0), (-1, 1, 0, 0), (-1, 1, 2, 3), (1, 1, eta_max, 7)][:p.rules]
    cases = [
        case(p, L, [lane(p, (whi, ahi, 1), isyn=1000)], R, psp=1),     # w saturates high
        case(p, L, [lane(p, (wlo, alo, 1), isyn=-1000)], R, psp=1),    # w saturates low
        case(p, L, [lane(p, (whi - 2, 5, 1))], R, psp=1),              # partial saturation
        case(p, L, [lane(p, (wlo + 2, -5, 1))], R, psp=0),
        case(p, L, [lane(p, (3, -5, 2), isyn=77)], R, psp=1),          # dw = -2, carry 3
        case(p, L, [lane(p, (3, 13, 2), isyn=77)], R, psp=1),          # dw = 3, carry 1
        case(p, L, [lane(p, (3, -1, 2))], R, psp=1),                   # dw = -1, carry 3
        case(p, L, [lane(p, (3, 3, 2))], R, psp=1),                    # dw = 0, carry 3
        case(p, L, [lane(p, (0, alo, 3))], R, psp=1),                  # eta max: dw = -1, carry 0
        case(p, L, [lane(p, (0, ahi, 3))], R, psp=1),                  # eta max: dw = 0
        case(p, L, [lane(p, (-7, -(1 << eta_max) + 1, 3))], R, psp=1),
        case(p, L, [lane(p, (whi, 8, 2), isyn=5)], R, psp=1),          # saturated: no isyn change
    ]
    check(p, L, cases, works=(Work.APPLY,))


@pytest.mark.parametrize("p,L", CONFIGS, ids=IDS)
def test_column_lanes_masked_by_pre_spike(p, L):
    rng = random.Random(3)
    R = [(0, 0, 0, 0), (-1, 1, 0, 0)] + [(1, 1, 0, 0)] * (p.rules - 2)
    cases = []
    for pre in range(1 << L):
        lanes = [lane(p, (rng.randint(*p.weight_range), rng.randint(-100, 100), 1),
                      x_col=rng.randrange(50)) for _ in range(L)]
        cases.append(dict(lanes=lanes, rules=R, x_row=0, post=0, pre=pre, start=0, psp=0))
    check(p, L, cases, works=(Work.COLUMN,))


def test_rule_fields_decoded_from_packed_words():
    """Every field of every rule slot reaches the lane: sweep each field over its whole range."""
    p, L = DEFAULT, 2
    glo, ghi = p.gain_range
    rng = random.Random(11)
    cases = []
    sweeps = ([(g, 0, 0, 0) for g in range(glo, ghi + 1)] + [(0, g, 0, 0) for g in range(glo, ghi + 1)]
              + [(0, 0, e, 0) for e in range(p.acc_bits)] + [(0, 0, 0, x) for x in range(8)]
              + [(glo, ghi, p.acc_bits - 1, 7), (ghi, glo, 5, 2)])
    for i, rule in enumerate(sweeps):
        slot = i % p.rules
        rules = [random_rule(p, rng) for _ in range(p.rules)]
        rules[slot] = rule
        lanes = [lane(p, (rng.choice([-77, 45, 1]), rng.choice([-20000, 12345, -1]), slot),
                      y=rng.randrange(1, 4000), x_col=rng.randrange(1, 4000),
                      isyn=rng.randint(-5000, 5000)) for _ in range(L)]
        cases.append(dict(lanes=lanes, rules=rules, x_row=rng.randrange(1, 4000), post=3, pre=0,
                          start=1, psp=1))
    check(p, L, cases)


def test_syn_input_width_holds_the_spec_bound():
    # spec section 2: A * 2**(weight_bits - 1) * 2**7 < 2**28 for A <= 4096 (plus sign).
    assert 4096 * (1 << 7) * (1 << 7) <= (1 << (SYN_INPUT_BITS - 1))


def test_rule_fields_with_wide_gains():
    p = CoreParams(neurons=8, axons=8, history=8, gain_bits=6)
    R = [(0, 0, 0, 0), (1, 1, 2, 3), (-32, 31, 15, 7)] + [(0, 0, 0, 0)] * (p.rules - 3)
    cases = [case(p, 1, [lane(p, (5, 100, 1), y=3, isyn=1000)], R, x_row=2, post=1, psp=1),
             case(p, 1, [lane(p, (-5, -20000, 2), y=3, isyn=1000)], R, x_row=2, post=1, psp=1)]
    check(p, 1, cases)
