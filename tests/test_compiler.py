"""The host compiler: placement on a chip's cores, capacity errors, mapping chip words back."""

import math
from pathlib import Path

import numpy as np
import pytest

from sal_hw.compiler import CompileError, compile_network, describe_fit
from sal_hw.driver import Chip
from sal_hw.golden.fixed import FixedCore
from sal_hw.golden.network import Network, Population, Projection
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import ChipInfo
from sal_hw.golden.quantize import quantize
from sal_hw.golden.spaces import Space
from sal_hw.netfile import load, loads

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CUSTOM = EXAMPLES / "custom-two-layer.yaml"


def chip_info(cores, params=None, route_entries=4096, inject_depth=256):
    return ChipInfo(cores=cores, params=params or CoreParams(), lanes=1,
                    route_entries=route_entries, inject_depth=inject_depth)


def feedforward(sizes=(150, 150, 150)):
    """a -> b -> c, dense and fixed: each core needs axons for the layer before its neurons."""
    names = "abcdefgh"[:len(sizes)]
    rng = np.random.default_rng(0)
    pops = [Population(n, s, -1.0) for n, s in zip(names, sizes)]
    projs = [Projection(f"{pre}{post}", pre, post, rng.normal(0, 0.05, (sizes[i + 1], sizes[i])))
             for i, (pre, post) in enumerate(zip(names, names[1:]))]
    return Network(pops, projs, name="ff")


# -- examples fit ----------------------------------------------------------------

@pytest.mark.parametrize("K", [1, 2, 4])
def test_examples_fit(K):
    for path in sorted(EXAMPLES.glob("*.yaml")):
        nf = load(path)
        c = compile_network(nf, chip_info(K))
        size = nf.network.size
        assert c.placement.cores == K and c.placement.block == math.ceil(size / K)
        assert c.apply_period == nf.run.phase
        assert all(r.fits for r in c.fits.values()), describe_fit(c)
        assert c.fits["neurons per core"].used == math.ceil(size / K)
        assert sum(c.fits["neurons per core"].per_core) == size
        assert c.fits["route entries"].used == len(c.placement.route_dest)
        assert c.fits["axons per core"].per_core == tuple(
            int((a >= 0).sum()) for a in c.placement.axon_pre)
        text = describe_fit(c)
        assert text.endswith("fits: yes") and f"{size} neurons" in text
        for name, q in c.report["projections"].items():
            pr = nf.network.projection(name)
            assert q["lsb"] == 2.0 ** (q["w_exp"] - 12)
            assert q["max_abs_error"] <= q["lsb"] / 2 + 1e-12 and q["clipped"] == 0
            assert q["mean_abs_error"] <= q["max_abs_error"]
            assert q["synapses"] == int(pr.mask.sum())


def test_compile_takes_a_path_a_netfile_or_a_network():
    info = chip_info(2)
    by_path = compile_network(str(CUSTOM), info)
    by_file = compile_network(load(CUSTOM), info)
    by_net = compile_network(load(CUSTOM).network, info)
    np.testing.assert_array_equal(by_path.placement.image.weight, by_net.placement.image.weight)
    assert by_path.apply_period == by_file.apply_period == 1000
    assert by_net.apply_period == 0 and by_net.netfile is None
    with pytest.raises(TypeError, match="network file, a Netfile or a Network"):
        compile_network(42, info)


# -- what does not fit -------------------------------------------------------------

def test_too_many_neurons():
    net = loads("name: big\nkind: recurrent\nnetwork:\n  n: 600\nrun:\n  steps: 10\n").network
    with pytest.raises(CompileError) as e:
        compile_network(net, chip_info(2))
    err = e.value
    assert isinstance(err, ValueError)
    assert (err.resource, err.core, err.needed, err.available) == ("neurons per core", 0, 300, 256)
    msg = str(err)
    assert msg.startswith("network 'big' does not fit the chip: neurons per core: ")
    assert "600 neurons in contiguous blocks over 2 cores put 300 on core 0, 44 more than a " \
           "core's 256" in msg
    assert "needs 3 cores of 256 neurons; the chip has 2" in msg


def test_too_many_axons_fixed_by_more_cores():
    with pytest.raises(CompileError) as e:
        compile_network(feedforward(), chip_info(2))
    err = e.value
    assert (err.resource, err.core, err.needed, err.available) == ("axons per core", 1, 300, 256)
    assert "core 1 needs 300 axons" in str(err) and "44 more than a core's 256" in str(err)
    assert "a chip of 3 cores would fit" in str(err)
    assert compile_network(feedforward(), chip_info(3)).fits["axons per core"].used == 150


def test_too_many_axons_on_any_number_of_cores():
    net = loads("name: dense\nkind: recurrent\nnetwork:\n  n: 300\nrun:\n  steps: 10\n").network
    with pytest.raises(CompileError) as e:
        compile_network(net, chip_info(2))
    assert e.value.resource == "axons per core" and e.value.needed == 300
    assert "no number of cores fits" in str(e.value)


def test_route_entries_exceeded():
    nf = load(EXAMPLES / "salnet-s.yaml")
    assert compile_network(nf, chip_info(4)).fits["route entries"].used == 500
    with pytest.raises(CompileError) as e:
        compile_network(nf, chip_info(4, route_entries=400))
    err = e.value
    assert (err.resource, err.needed, err.available) == ("route entries", 500, 400)
    msg = str(err)
    assert "the routing table needs 500 entries" in msg and "100 more than the chip's 400" in msg
    assert "compile with cores=" in msg
    fewer = int(msg.split("compile with cores=")[1].split()[0])
    c = compile_network(nf, chip_info(4, route_entries=400), cores=fewer)
    assert c.fits["route entries"].used <= 400 and c.cores_used == fewer
    chip = c.chip()
    assert chip.K == 4 and chip.route_entries == 400


def test_rule_table_exceeded():
    with pytest.raises(CompileError) as e:
        compile_network(load(EXAMPLES / "salnet-s.yaml"), chip_info(1, CoreParams(rules=2)))
    assert (e.value.resource, e.value.needed, e.value.available) == ("rule-table entries", 4, 2)
    assert "the network needs 4 rule-table entries" in str(e.value)
    assert "2 more than a core's 2" in str(e.value)
    assert compile_network(load(EXAMPLES / "salnet-s.yaml"),
                           chip_info(1, CoreParams(rules=4))).fits["rule-table entries"].used == 4


def test_fixed_point_format():
    nf = loads("name: slow\nkind: layered\nnetwork:\n  layers: [4, 4]\n  tau: 40\n"
               "run:\n  steps: 10\n")
    with pytest.raises(CompileError,
                       match="fixed-point format: kernel has 79 taps; history depth is 64"):
        compile_network(nf, chip_info(1))


def test_two_projections_on_the_same_synapses():
    net = feedforward((4, 4))
    net.projections.append(Projection("ab2", "a", "b", np.ones((4, 4)) * 0.1))
    with pytest.raises(CompileError, match="'ab' and 'ab2' both connect a -> b"):
        compile_network(net, chip_info(1))


def test_inject_queue_exceeded():
    nf = load(CUSTOM)
    c = compile_network(nf, chip_info(2))
    assert c.fits["inject queue"].used == 2          # in[0] and in[3], one axon each
    with pytest.raises(CompileError) as e:
        compile_network(nf, chip_info(2, inject_depth=1))
    line = next(i for i, s in enumerate(CUSTOM.read_text().splitlines(), 1) if "inject:" in s
                and s.strip().startswith("-"))
    assert e.value.resource == "inject queue"
    assert f"{CUSTOM}:{line}: run.schedule[2] leaves 2 injected events pending" in str(e.value)
    assert "1 more than the chip's queue of 1" in str(e.value)


def test_cores_beyond_the_chip():
    with pytest.raises(CompileError, match="cores: asked for 3 cores; the chip has 2"):
        compile_network(load(CUSTOM), chip_info(2), cores=3)


# -- mapping chip words back ---------------------------------------------------------

def test_weights_round_trip_through_the_golden_chip():
    nf = load(CUSTOM)
    net = nf.network
    with Chip.open("golden", cores=2) as chip:
        c = compile_network(nf, chip.info)
        chip.load(c.chip())
        words = {k: chip.read(k, Space.WEIGHT) for k in range(chip.info.cores)}
        for pr in net.projections:
            lsb = c.report["projections"][pr.name]["lsb"]
            got = c.weights_of(words, pr.name)
            assert got.shape == pr.weights.shape
            # the quantized weights in network units: within half an LSB of the network's
            assert np.max(np.abs(got - pr.weights)) <= lsb / 2 + 1e-12
            b = c.placement.image.blocks[pr.name]
            np.testing.assert_array_equal(got, FixedCore(c.placement.image).block_weights(b))
            assert np.any(got != 0)
        # after learning, the chip's weights are those of the same network on one core
        chip.run(2000)
        words = [chip.read(k, Space.WEIGHT) for k in range(chip.info.cores)]
        counts = [chip.read(k, Space.SPIKE_COUNT) for k in range(chip.info.cores)]
    single = FixedCore(quantize(net, apply_period=nf.run.phase))
    single.run(2000)
    for name, b in c.placement.image.blocks.items():
        np.testing.assert_array_equal(c.weights_of(words, name), single.block_weights(b))
    assert not np.array_equal(c.weights_of(words, "B1"), net.projection("B1").weights)
    np.testing.assert_array_equal(c.spike_counts(counts), np.asarray(single.spike_count)[:net.size])
    assert c.spike_counts(counts).sum() > 0
    np.testing.assert_array_equal(c.spike_counts(counts, "hid"),
                                  np.asarray(single.spike_count)[20:32])


def test_weights_of_takes_a_fixed_chip_lists_and_dicts():
    c = compile_network(load(CUSTOM), chip_info(4))
    chip = c.chip()
    ref = c.weights_of(chip, "W2")
    words = [core.read(Space.WEIGHT) for core in chip.cores]
    np.testing.assert_array_equal(c.weights_of(words, "W2"), ref)
    np.testing.assert_array_equal(c.weights_of(dict(enumerate(words)), "W2"), ref)
    shaped = [np.reshape(w, (256, 256)) for w in words]
    np.testing.assert_array_equal(c.weights_of(shaped, "W2"), ref)
    np.testing.assert_array_equal(c.codes_of(words, "W2") * c.report["projections"]["W2"]["lsb"],
                                  ref)
    with pytest.raises(ValueError, match="WEIGHT words of core 1 are missing"):
        c.weights_of({0: words[0]}, "W2")
    with pytest.raises(ValueError, match="core 0: 5 WEIGHT words; the space holds 65536"):
        c.weights_of([[0] * 5] + words[1:], "W2")
    with pytest.raises(KeyError, match="no projection 'W9'"):
        c.weights_of(words, "W9")


def test_spike_counts_mapping():
    nf = load(EXAMPLES / "salnet-s.yaml")
    c = compile_network(nf, chip_info(4))              # blocks of 43: 43, 43, 43, 41
    words = [[1000 * core + n for n in range(256)] for core in range(4)]
    g = np.arange(170)
    np.testing.assert_array_equal(c.spike_counts(words), 1000 * (g // 43) + g % 43)
    # L2 is neurons 128..159: core 2 from 128 (local 42), core 3 from 129
    np.testing.assert_array_equal(c.spike_counts(words, "L2"),
                                  [2042] + [3000 + n for n in range(31)])
    assert c.neuron_slots("L2")[:2] == [(2, 42), (3, 0)]
    with pytest.raises(ValueError, match="SPIKE_COUNT words of 3 cores; the network uses 4"):
        c.spike_counts(words[:3])


def test_inject_targets_reach_the_synapses_of_the_neuron():
    nf = load(CUSTOM)
    c = compile_network(nf, chip_info(2))            # in: 0-19, cores of 18 neurons
    targets = c.inject_targets("in", [0, 3])
    # in drives hid (W1), all on core 1: one axon per neuron there
    assert list(targets) == [1] and len(targets[1]) == 2
    assert [int(c.placement.axon_pre[1][a]) for a in targets[1]] == [0, 3]
    # hid (20-31) drives in (B1, cores 0 and 1) and out (W2, core 1)
    assert sorted(c.inject_targets("hid", [5])) == [0, 1]
    # an injected spike arrives on those axons at the step asked for
    chip = c.chip()
    for core, axons in targets.items():
        chip.inject(5, core, axons)
    chip.run(6)
    hist = chip.cores[1].read(Space.AXON_HIST)
    assert all(hist[a] & 1 for a in targets[1])
