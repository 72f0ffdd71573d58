"""Host access to the memory spaces: round trips, refusals, and all-or-nothing writes.

docs/spec.md section 5: a write that is out of range (address or value) is
refused whole and changes nothing.
"""

import copy
import random
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sal_hw.golden.fixed import AccessError, FixedCore
from sal_hw.golden.network import layered
from sal_hw.golden.params import CoreParams
from sal_hw.golden.quantize import quantize
from sal_hw.golden.spaces import Config, Space, pack_rule, space_info, unpack_rule

# A core with A != N (catches a*N+n addressing mix-ups) and a history deeper
# than 64 bits (history words beyond uint64), plus one with the default H = 64.
PARAMS = {
    "h70": CoreParams(neurons=11, axons=10, history=70, rules=4),
    "h64": CoreParams(neurons=12, axons=12, history=64),
}


def running_core(p):
    """A quantized 4-3-2 SALNet that has run a while: every space holds non-trivial state."""
    net = layered([4, 3, 2], tau=10, eta=0.05, seed=5)
    core = FixedCore(quantize(net, params=p, apply_period=100))
    core.run(250)
    return core


CORES = {k: running_core(p) for k, p in PARAMS.items()}
WRITABLE = [s for s in Space if space_info(CoreParams(), s).writable]
READ_ONLY = [s for s in Space if not space_info(CoreParams(), s).writable]


def config_range(p, reg):
    """docs/spec.md section 5, CONFIG table."""
    return {Config.TAU_REF: (1, 255), Config.TAU_SYN: (1, p.history),
            Config.LUT_SHIFT: (0, p.u_bits - 1), Config.APPLY_PERIOD: (0, 65535),
            Config.PHASE_COUNT: (0, 65535), Config.STEP_COUNT: (0, 2 ** 32 - 1),
            Config.APPLY_COUNT: (0, 2 ** 32 - 1)}[Config(reg)]


def word_range(p, space, addr):
    """Inclusive range of the words at ``addr`` of ``space``; both ends are valid words.

    For RULES not every word in between is valid (eta_s above acc_bits - 1 is
    refused): use :func:`random_word` for arbitrary valid words.
    """
    info = space_info(p, space)
    if space == Space.CONFIG:
        return config_range(p, addr)
    if space == Space.SEED:
        return 1, 2 ** 32 - 1
    if space == Space.RULE_INDEX:
        return 0, p.rules - 1
    if space == Space.RULES:
        return 0, pack_rule(p, -1, -1, p.acc_bits - 1, 7)
    if info.signed:
        return -(1 << (info.bits - 1)), (1 << (info.bits - 1)) - 1
    return 0, (1 << info.bits) - 1


def rule_fields(p):
    glo, ghi = p.gain_range
    return st.tuples(st.integers(glo, ghi), st.integers(glo, ghi),
                     st.integers(0, p.acc_bits - 1), st.integers(0, 7))


def random_word(p, space, addr, rng):
    if space == Space.RULES:
        glo, ghi = p.gain_range
        return pack_rule(p, rng.randint(glo, ghi), rng.randint(glo, ghi),
                         rng.randint(0, p.acc_bits - 1), rng.randint(0, 7))
    return rng.randint(*word_range(p, space, addr))


def word_strategy(p, space, addr):
    if space == Space.RULES:
        return rule_fields(p).map(lambda f: pack_rule(p, *f))
    return st.integers(*word_range(p, space, addr))


def snapshot(core):
    return {s: core.read(s) for s in Space}


def test_space_table_matches_spec():
    """Depth, width, signedness and access of every space in docs/spec.md section 5 (defaults)."""
    p = CoreParams()
    A, N, H = 256, 256, 64
    spec = {Space.CONFIG: (7, 32, False, True), Space.WEIGHT: (A * N, 8, True, True),
            Space.ACC: (A * N, 16, True, True), Space.RULE_INDEX: (A * N, 3, False, True),
            Space.RULES: (8, 16, False, True), Space.BIAS: (N, 16, True, True),
            Space.LUT: (256, 16, False, True), Space.KERNEL: (H, 8, False, True),
            Space.SEED: (N, 32, False, True), Space.REFRACTORY: (N, 8, False, True),
            Space.NEURON_HIST: (N, H, False, True), Space.AXON_HIST: (A, H, False, True),
            Space.POTENTIAL: (N, 20, True, False), Space.SPIKE_COUNT: (N, 32, False, True),
            Space.SPIKES: (8, 32, False, False)}
    for space, want in spec.items():
        info = space_info(p, space)
        assert (info.depth, info.bits, info.signed, info.writable) == want, space.name


# -- round trips ----------------------------------------------------------------

@pytest.mark.parametrize("key", list(PARAMS))
@pytest.mark.parametrize("space", WRITABLE, ids=lambda s: s.name)
def test_full_space_round_trip(key, space):
    """Write a whole space with random valid words including both extremes; read it back."""
    p = PARAMS[key]
    core = copy.deepcopy(CORES[key])
    info = space_info(p, space)
    rng = random.Random(int(space) * 7 + len(key))
    values = []
    for addr in range(info.depth):
        lo, hi = word_range(p, space, addr)
        pick = addr % 3
        values.append(lo if pick == 0 else hi if pick == 1 else random_word(p, space, addr, rng))
    before = snapshot(core)
    core.write(space, 0, values)
    assert core.read(space) == values
    after = snapshot(core)
    for other in Space:
        if other != space:
            assert after[other] == before[other], f"writing {space.name} changed {other.name}"


@settings(max_examples=60)
@given(st.data())
def test_partial_round_trip(data):
    """Any valid run of words at any address: read back the same, neighbours untouched."""
    key = data.draw(st.sampled_from(list(PARAMS)))
    p = PARAMS[key]
    core = copy.deepcopy(CORES[key])
    space = data.draw(st.sampled_from(WRITABLE))
    depth = space_info(p, space).depth
    addr = data.draw(st.integers(0, depth - 1))
    count = data.draw(st.integers(0, min(depth - addr, 8)))
    values = [data.draw(word_strategy(p, space, addr + i)) for i in range(count)]
    before = core.read(space)
    core.write(space, addr, values)
    assert core.read(space, addr, count) == values
    assert core.read(space) == before[:addr] + values + before[addr + count:]


@given(st.integers(-8, 7), st.integers(-8, 7), st.integers(0, 15), st.integers(0, 7))
def test_pack_rule_round_trip(cc, ca, eta_s, w_exp):
    p = CoreParams()
    word = pack_rule(p, cc, ca, eta_s, w_exp)
    assert 0 <= word < 1 << 16
    # layout, LSB first: c_causal[3:0], c_anticausal[7:4], eta_s[12:8], w_exp[15:13]
    assert word == (cc % 16) | (ca % 16) << 4 | eta_s << 8 | w_exp << 13
    assert unpack_rule(p, word) == (cc, ca, eta_s, w_exp)


@pytest.mark.parametrize("fields", [(8, 0, 0, 0), (0, -9, 0, 0), (0, 0, 16, 0), (0, 0, 31, 0),
                                    (0, 0, 0, 8), (0, 0, -1, 0)])
def test_pack_rule_rejects_out_of_range(fields):
    with pytest.raises(ValueError, match="rule field"):
        pack_rule(CoreParams(), *fields)


def test_rules_write_takes_effect():
    """A rule written through RULES is what the core uses (its w_exp scales the potential)."""
    core = copy.deepcopy(CORES["h64"])
    p = core.p
    idx = core.read(Space.RULE_INDEX)
    r = max(idx)
    words = core.read(Space.RULES)
    cc, ca, eta_s, w_exp = unpack_rule(p, words[r])
    core.write(Space.RULES, r, [pack_rule(p, cc, ca, eta_s, (w_exp + 1) % 8)])
    assert unpack_rule(p, core.read(Space.RULES, r, 1)[0])[3] == (w_exp + 1) % 8
    assert core.rules[r] == (cc, ca, eta_s, (w_exp + 1) % 8)


# -- refusals -------------------------------------------------------------------

def expect_refusal(core, space, addr, values, pattern=None):
    """The write raises AccessError naming the space, and every space reads as before."""
    before = snapshot(core)
    twin = copy.deepcopy(core)
    with pytest.raises(AccessError) as err:
        core.write(space, addr, values)
    msg = str(err.value)
    assert re.search(Space(space).name, msg, re.I), msg
    if pattern:
        assert re.search(pattern, msg), msg
    assert snapshot(core) == before
    # and the core behaves exactly like one that never saw the write
    assert np.array_equal(core.run(40), twin.run(40))
    assert snapshot(core) == snapshot(twin)


@pytest.mark.parametrize("key", list(PARAMS))
@pytest.mark.parametrize("space", list(Space), ids=lambda s: s.name)
def test_out_of_range_address(key, space):
    p = PARAMS[key]
    core = copy.deepcopy(CORES[key])
    depth = space_info(p, space).depth
    for addr, count in [(depth, 1), (-1, 1), (depth - 1, 2), (0, depth + 1)]:
        with pytest.raises(AccessError, match=space.name):
            core.read(space, addr, count)
    if space_info(p, space).writable:
        lo, _ = word_range(p, space, 0)
        expect_refusal(core, space, depth, [lo], r"outside")
        expect_refusal(core, space, -1, [lo], r"outside")
        # a run that starts inside and ends one past the end is refused whole
        vals = [word_range(p, space, a)[0] for a in range(depth - 2, depth)] + [lo]
        expect_refusal(core, space, depth - 2, vals, r"outside")
    # the last word itself is fine
    assert len(core.read(space, depth - 1, 1)) == 1


@pytest.mark.parametrize("key", list(PARAMS))
@pytest.mark.parametrize("space", [s for s in WRITABLE if s != Space.CONFIG], ids=lambda s: s.name)
def test_value_too_wide(key, space):
    p = PARAMS[key]
    core = copy.deepcopy(CORES[key])
    info = space_info(p, space)
    if info.signed:
        bad = [(1 << (info.bits - 1)), -(1 << (info.bits - 1)) - 1]
    else:
        bad = [1 << info.bits, -1]
    bad += [2 ** 70, -(2 ** 70)]
    for v in bad:
        expect_refusal(core, space, 0, [v])
        # valid words first, the bad one last: still nothing written
        lo, hi = word_range(p, space, 1)
        expect_refusal(core, space, 1, [lo, hi, v])


def test_zero_seed_refused():
    core = copy.deepcopy(CORES["h64"])
    expect_refusal(core, Space.SEED, 0, [0], "non-zero")
    expect_refusal(core, Space.SEED, 3, [5, 6, 0, 7], "non-zero")


def test_rule_index_beyond_table(core_image):
    # With 8 rules an index >= 8 does not fit the 3-bit word either.
    core = copy.deepcopy(CORES["h64"])
    expect_refusal(core, Space.RULE_INDEX, 0, [8])
    # With 4 rules (2-bit indices) and 1 rule (a 1-bit word): the word fits, the index does not.
    core = copy.deepcopy(CORES["h70"])
    expect_refusal(core, Space.RULE_INDEX, 5, [3, 4])
    p1 = CoreParams(neurons=3, axons=3, rules=1)
    assert space_info(p1, Space.RULE_INDEX).bits == 1
    core = FixedCore(core_image(p1))
    expect_refusal(core, Space.RULE_INDEX, 0, [0, 1], r"below 1")


@pytest.mark.parametrize("space", READ_ONLY, ids=lambda s: s.name)
def test_read_only_spaces_refuse_writes(space):
    core = copy.deepcopy(CORES["h64"])
    assert Space.POTENTIAL in READ_ONLY
    expect_refusal(core, space, 0, [0], "read only")
    expect_refusal(core, space, 0, [], "read only")


@pytest.mark.parametrize("key", list(PARAMS))
@pytest.mark.parametrize("reg", list(Config), ids=lambda r: r.name)
def test_bad_config_values(key, reg):
    p = PARAMS[key]
    core = copy.deepcopy(CORES[key])
    lo, hi = config_range(p, reg)
    for v in (lo - 1, hi + 1, -1, 2 ** 40):
        if lo <= v <= hi:
            continue
        expect_refusal(core, Space.CONFIG, int(reg), [v], reg.name)
    # a valid TAU_REF first, then a bad value: the TAU_REF change is refused too
    if reg != Config.TAU_REF:
        tau_ref = core.read(Space.CONFIG, 0, 1)[0]
        new = 1 + tau_ref % 200
        vals = [new] + [config_range(p, r)[0] for r in range(1, int(reg))] + [hi + 1]
        expect_refusal(core, Space.CONFIG, 0, vals, reg.name)
        assert core.read(Space.CONFIG, 0, 1) == [tau_ref]


def test_bad_history_and_rule_words():
    core = copy.deepcopy(CORES["h70"])
    expect_refusal(core, Space.NEURON_HIST, 2, [1, 2 ** 70], "70 bits")
    expect_refusal(core, Space.AXON_HIST, 0, [2 ** 70 - 1, -1], "70 bits")
    expect_refusal(core, Space.RULES, 1, [pack_rule(core.p, -1, 1, 3, 2), 1 << 16], "16 bits")
    expect_refusal(core, Space.RULES, 0, [-1])
    # eta_s above acc_bits - 1 (spec section 5): the carry would not fit the accumulator
    p = core.p
    for eta_s in (p.acc_bits, 31):
        word = (eta_s << 2 * p.gain_bits) | 0x1F
        expect_refusal(core, Space.RULES, 2, [pack_rule(p, 1, 1, 0, 0), word], "eta_s")


def test_history_words_are_the_spec_layout(core_image):
    """bit k-1 = s(t-k): after a step without spikes the word shifts left by one, dropping bit H-1."""
    p = CoreParams(neurons=3, axons=3, history=70)
    core = FixedCore(core_image(p))    # LUT all zero: nobody fires
    words = [2 ** 69 + 5, 2 ** 70 - 1, 0]
    core.write(Space.NEURON_HIST, 0, words)
    core.write(Space.AXON_HIST, 0, words[::-1])
    core.step()
    mask = 2 ** 70 - 1
    assert core.read(Space.NEURON_HIST) == [(w << 1) & mask for w in words]
    assert core.read(Space.AXON_HIST) == [(w << 1) & mask for w in words[::-1]]
    # an injected axon spike enters at bit 0
    core.step(inject=[1])
    assert core.read(Space.AXON_HIST)[1] == ((words[1] << 2) & mask) | 1


def test_spikes_space_holds_last_step():
    """SPIKES word w bit j = neuron 32 w + j fired in the last step (33+ neurons: two words)."""
    net = layered([20, 16], tau=5, eta=0.05, seed=2)
    core = FixedCore(quantize(net, params=CoreParams(neurons=40, axons=40), apply_period=50))
    assert core.read(Space.SPIKES) == [0, 0]
    seen = 0
    for _ in range(200):
        s = core.step()
        words = core.read(Space.SPIKES)
        assert words == [sum(1 << j for j in range(32) if 32 * w + j < 40 and s[32 * w + j])
                         for w in range(2)]
        seen += bool(words[1])
    assert seen > 0      # the second word was exercised
