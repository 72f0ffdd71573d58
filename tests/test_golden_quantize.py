"""quantize(): refusals, learning-rate exactness, weight scales and read-back (docs/spec.md section 6)."""

import numpy as np
import pytest

from sal_hw.golden.fixed import FixedCore
from sal_hw.golden.network import Network, Population, Projection, exp_kernel, layered, pair, recurrent
from sal_hw.golden.params import CoreParams
from sal_hw.golden.quantize import quantize
from sal_hw.golden.spaces import Space

U_FRAC = CoreParams().u_frac
LARGEST_RANGE = 127 * 2.0 ** (7 - U_FRAC)   # 3.96875: 127 codes at w_exp = 7


def salnet_s(seed=1):
    return layered([64, 64, 32, 10], tau=10, eta=0.05, seed=seed)


# -- refusals -------------------------------------------------------------------

def test_network_too_large_for_neurons():
    net = salnet_s()   # 170 neurons
    with pytest.raises(ValueError, match=r"170 neurons.*169 neurons"):
        quantize(net, params=CoreParams(neurons=169, axons=256))


def test_network_too_large_for_axons():
    with pytest.raises(ValueError, match=r"170 neurons.*100 axons"):
        quantize(salnet_s(), params=CoreParams(neurons=256, axons=100))


def test_network_that_just_fits():
    image = quantize(salnet_s(), params=CoreParams(neurons=170, axons=170))
    assert image.weight.shape == (170, 170)


def test_tau_syn_longer_than_history():
    net = pair(tau=25)   # tau_syn 25
    with pytest.raises(ValueError, match=r"tau_syn 25 exceeds the history depth 24"):
        quantize(net, params=CoreParams(neurons=2, axons=2, history=24))


def test_kernel_longer_than_history():
    net = pair(tau=25)   # tau_syn 25 fits 32, but the kernel has 49 taps
    with pytest.raises(ValueError, match=r"kernel has 49 taps; history depth is 32"):
        quantize(net, params=CoreParams(neurons=2, axons=2, history=32))


def test_tau_ref_too_long():
    net = pair()
    net.tau_ref = 256
    with pytest.raises(ValueError, match="tau_ref 256 exceeds 255"):
        quantize(net)


@pytest.mark.parametrize("w", [(5.0, 0.5), (0.5, -4.0), (LARGEST_RANGE * 1.001, 0.1)])
def test_weight_range_too_large(w):
    with pytest.raises(ValueError, match=r"projection 'ab': weight range .* exceeds the largest"):
        quantize(pair(w=w))


def test_largest_weight_range_is_accepted():
    image = quantize(pair(w=(LARGEST_RANGE, -LARGEST_RANGE)))
    assert image.rules[image.blocks["ab"].rule][3] == 7
    assert image.blocks["ab"].lsb == 2.0 ** (7 - U_FRAC)
    assert image.weight[0, 1] == 127 and image.weight[1, 0] == -127


def test_too_many_rules():
    # no-synapse + three projection classes do not fit a 2-entry rule table
    with pytest.raises(ValueError, match="rule-table entries"):
        quantize(salnet_s(), params=CoreParams(neurons=170, axons=170, rules=2))


# -- learning rates ------------------------------------------------------------------

def test_salnet_s_learning_rates_are_exact():
    net = salnet_s()
    image = quantize(net, apply_period=1000)
    report = image.report["weights"]
    assert set(report) == {pr.name for pr in net.projections}
    plastic = [pr for pr in net.projections if pr.plastic]
    assert [pr.name for pr in plastic] == ["B1", "B2", "B3"]
    kscale = image.report["kernel_scale"]
    for pr in net.projections:
        assert report[pr.name]["eta_relative_error"] == 0.0
    for pr in plastic:
        block = image.blocks[pr.name]
        c_causal, c_anti, eta_s, w_exp = image.rules[block.rule]
        assert (c_causal, c_anti) == (-1, 1)
        # kscale = g * 2**eta_s with g = eta / (L * lsb), exactly
        g = pr.eta / (net.norm * block.lsb)
        assert kscale == g * 2.0 ** eta_s
        assert block.lsb == 2.0 ** (w_exp - U_FRAC)
    # the kernel uses the full width without overflowing it
    assert image.kernel.max() <= 255
    assert image.kernel.max() > 127
    assert np.array_equal(image.kernel[:19], np.round(exp_kernel(10, 20) * kscale))
    assert not image.kernel[19:].any()


def test_non_power_of_two_rates_report_their_error():
    pops = [Population("a", 2, 0.0), Population("b", 2, 0.0)]
    projs = [Projection("f", "a", "b", np.full((2, 2), 0.1), "sal", 0.05),
             Projection("g", "b", "a", np.full((2, 2), 0.1), "sal", 0.03)]
    net = Network(pops, projs)
    image = quantize(net)
    rep = image.report["weights"]
    assert rep["f"]["eta_relative_error"] == 0.0      # the fastest is exact
    lsb = image.blocks["g"].lsb
    rate_g = 0.03 / (net.norm * lsb)
    eta_s = image.rules[image.blocks["g"].rule][2]
    # 0.05 / 0.03 = 1.67: the nearest power of two is 2, so g learns 0.05/2 / 0.03 - 1 = -1/6 off
    assert image.rules[image.blocks["f"].rule][2] + 1 == eta_s
    assert rep["g"]["eta_relative_error"] == pytest.approx(
        image.report["kernel_scale"] / (rate_g * 2.0 ** eta_s) - 1.0, rel=1e-12)
    assert rep["g"]["eta_relative_error"] == pytest.approx(-1 / 6, rel=1e-9)


def test_learning_rate_shift_beyond_accumulator():
    """Rates 2**17 apart need eta_s 17 > acc_bits - 1 = 15: refused (the carry would not fit)."""
    pops = [Population("a", 2, 0.0), Population("b", 2, 0.0)]
    projs = [Projection("f", "a", "b", np.full((2, 2), 0.1), "sal", 0.05),
             Projection("g", "b", "a", np.full((2, 2), 0.1), "sal", 0.05 / 2 ** 17)]
    with pytest.raises(ValueError, match=r"projection 'g': learning rate needs shift \d+, "
                                         r"outside 0\.\.15"):
        quantize(Network(pops, projs))
    # 2**6 apart still fits
    projs[1].eta = 0.05 / 2 ** 6
    image = quantize(Network(pops, projs))
    shifts = [image.rules[image.blocks[n].rule][2] for n in ("f", "g")]
    assert shifts[1] - shifts[0] == 6 and max(shifts) <= 15


# -- weight scales and read-back ---------------------------------------------------

def _expected_wexp(w_max):
    e = 0
    while 127 * 2.0 ** (e - U_FRAC) < w_max:
        e += 1
    return e


@pytest.mark.parametrize("make", [salnet_s, lambda: pair(), lambda: pair(w=(-0.3, 2.9)),
                                  lambda: recurrent(n=48, seed=3)],
                         ids=["salnet-s", "pair", "pair-neg", "recurrent-48"])
def test_block_weights_within_half_lsb(make):
    net = make()
    image = quantize(net)
    core = FixedCore(image)
    for pr in net.projections:
        block = image.blocks[pr.name]
        # smallest w_exp with 127 * 2**(w_exp - u_frac) >= w_max
        assert block.lsb == 2.0 ** (_expected_wexp(pr.w_max) - U_FRAC)
        back = core.block_weights(block)
        assert back.shape == pr.weights.shape
        assert np.all(np.abs(back - pr.weights) <= block.lsb / 2)
        assert image.report["weights"][pr.name]["max_abs_error"] <= block.lsb / 2
        assert image.report["weights"][pr.name]["lsb"] == block.lsb
        # and the codes sit where the block says (a * N + n), read through the memory space
        post, pre = pr.weights.shape
        N = image.params.neurons
        words = core.read(Space.WEIGHT)
        codes = np.array([[words[(block.axon0 + j) * N + block.neuron0 + i] for j in range(pre)]
                          for i in range(post)])
        assert np.array_equal(codes * block.lsb, back)
        masked = ~pr.mask
        assert not codes[masked].any()


def test_salnet_s_layout():
    net = salnet_s()
    image = quantize(net)
    off = net.offsets()
    # B3 needs W3's transpose range 1/sqrt(10) > 1/sqrt(32): one more exponent step
    assert image.blocks["B3"].lsb == 2 * image.blocks["W3"].lsb
    for pr in net.projections:
        b = image.blocks[pr.name]
        assert (b.axon0, b.neuron0) == (off[pr.pre], off[pr.post])
    # every synapse outside the blocks is "no synapse": rule 0, weight 0
    used = np.zeros(image.weight.shape, dtype=bool)
    for b in image.blocks.values():
        post, pre = b.shape
        used[b.axon0:b.axon0 + pre, b.neuron0:b.neuron0 + post] = True
    assert not image.weight[~used].any() and not image.rule_index[~used].any()
    assert image.rules[0] == (0, 0, 0, 0)
    # biases: round(b * 2**12)
    assert np.array_equal(image.bias[:170], np.round(net.bias() * 2 ** U_FRAC))


def test_unused_neurons_silent():
    image = quantize(pair(), params=CoreParams(neurons=8, axons=8))
    assert (image.bias[2:] == CoreParams().bias_range[0]).all()
    assert not image.weight[2:].any() and not image.weight[:, 2:].any()
    assert (image.axon_source[2:] == -1).all()
