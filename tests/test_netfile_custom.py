"""kind: custom network files: explicit populations and projections, weights inline, from .npy
files or drawn by initializers; the run schedule; every bad input says where and why."""

import json
from pathlib import Path

import numpy as np
import pytest

from sal_hw.golden.quantize import quantize
from sal_hw.netfile import (BIAS_RANGE, WEIGHT_LIMIT, Action, NetfileError, format_path, load,
                            loads)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

GOOD = """\
name: small
kind: custom
network:
  seed: 7
  tau: 10
  eta: 0.05
  populations:
    - {name: in, size: 4, bias: -0.5}
    - {name: hid, size: 3}
  projections:
    - {name: W1, pre: in, post: hid, weights: {init: normal, std: 0.3, seed: 3}}
    - name: B1
      pre: hid
      post: in
      weights: [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [-0.1, -0.2, -0.3], [0.0, 0.25, -0.5]]
      rule: sal
run:
  steps: 100
  phase: 50
"""


def write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def line_of(text, fragment):
    """1-based line of the first line of ``text`` that contains ``fragment``."""
    return next(i for i, s in enumerate(text.splitlines(), 1) if fragment in s)


def error_of(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(NetfileError) as info:
        load(path)
    return path, info.value


def check(err, path, key_path, line, *fragments):
    """The message names the file, the line (when known), the key path and the problem."""
    msg = str(err)
    assert err.file == str(path)
    if line is not None:
        assert msg.startswith(f"{path}:{line}: "), msg
        assert err.line == line
    else:
        assert msg.startswith(f"{path}"), msg
    if key_path is not None:
        assert format_path(err.path) == key_path, msg
        assert f": {key_path}: " in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg


def bad(tmp_path, old, new, count=1):
    assert old in GOOD, old
    text = GOOD.replace(old, new, count)
    path, err = error_of(tmp_path, text)
    return text, path, err


# -- valid files ---------------------------------------------------------------

def test_good_file_builds_the_network(tmp_path):
    nf = load(write(tmp_path, GOOD))
    net = nf.network
    assert nf.kind == "custom" and net.name == "small"
    assert [(p.name, p.size) for p in net.populations] == [("in", 4), ("hid", 3)]
    np.testing.assert_array_equal(net.population("in").bias, [-0.5] * 4)
    np.testing.assert_array_equal(net.population("hid").bias, [0.0] * 3)
    w1, b1 = net.projection("W1"), net.projection("B1")
    assert (w1.pre, w1.post, w1.rule, w1.eta, w1.plastic) == ("in", "hid", "off", 0.0, False)
    assert (b1.pre, b1.post, b1.rule, b1.eta, b1.plastic) == ("hid", "in", "sal", 0.05, True)
    np.testing.assert_array_equal(w1.weights, np.random.default_rng(3).normal(0.0, 0.3, (3, 4)))
    np.testing.assert_array_equal(b1.weights[3], [0.0, 0.25, -0.5])
    assert net.alignment_pairs() == [("W1", "B1")]
    # the learning feedback projection gets at least its forward partner's range
    assert w1.w_max == np.max(np.abs(w1.weights))
    assert b1.w_max == max(0.6, w1.w_max)
    assert (net.tau_ref, net.tau_syn, net.norm, len(net.kernel), net.seed) == (10, 10, 20, 19, 7)
    assert nf.run.seeds == [7]
    assert nf.run.schedule == [Action("run", 0, steps=100)]     # the default schedule
    nf.quantize()


LAYERED = """\
name: tiny
kind: layered
network:
  layers: [8, 6, 4]
  tau: 10
  eta: 0.05
  b_rule: sal
  seed: 3
run:
  steps: 2000
  phase: 500
"""


def _custom_text(net, tmp_path, w_max=True, extra=""):
    """``net`` written out as a custom file, every array in a .npy file under data/."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    lines = ["name: " + net.name, "kind: custom", "network:", f"  seed: {net.seed}",
             f"  tau: {net.tau_ref}", "  eta: 0.05", "  populations:"]
    for p in net.populations:
        np.save(data / f"bias_{p.name}.npy", p.bias)
        lines.append(f"    - {{name: {p.name}, size: {p.size}, "
                     f"bias: {{npy: data/bias_{p.name}.npy}}}}")
    lines.append("  projections:")
    for pr in net.projections:
        np.save(data / f"{pr.name}.npy", pr.weights)
        lines.append(f"    - {{name: {pr.name}, pre: {pr.pre}, post: {pr.post}, "
                     f"weights: {{npy: data/{pr.name}.npy}}, rule: \"{pr.rule}\""
                     + (f", w_max: {pr.w_max!r}" if w_max else "") + extra + "}")
    lines += ["run:", "  steps: 2000", "  phase: 500"]
    return "\n".join(lines) + "\n"


def _same_network(a, b):
    assert [(p.name, p.size) for p in a.populations] == [(p.name, p.size) for p in b.populations]
    for p in a.populations:
        np.testing.assert_array_equal(p.bias, b.population(p.name).bias)
    assert [p.name for p in a.projections] == [p.name for p in b.projections]
    for p in a.projections:
        q = b.projection(p.name)
        assert (p.pre, p.post, p.rule, p.eta, p.w_max) == (q.pre, q.post, q.rule, q.eta, q.w_max)
        np.testing.assert_array_equal(p.weights, q.weights)
        np.testing.assert_array_equal(p.mask, q.mask)
    assert (a.tau_ref, a.tau_syn, a.norm, a.seed) == (b.tau_ref, b.tau_syn, b.norm, b.seed)
    np.testing.assert_array_equal(a.kernel, b.kernel)
    assert a.alignment_pairs() == b.alignment_pairs()
    qa, qb = quantize(a, apply_period=500), quantize(b, apply_period=500)
    for field in ("weight", "rule_index", "bias", "kernel", "seed", "lut"):
        np.testing.assert_array_equal(getattr(qa, field), getattr(qb, field))
    assert qa.rules == qb.rules


def test_same_network_as_the_layered_kind(tmp_path):
    layered = loads(LAYERED).network
    nf = load(write(tmp_path, _custom_text(layered, tmp_path)))
    _same_network(layered, nf.network)
    assert nf.run.phase == 500


def test_feedback_range_defaults_like_the_builders(tmp_path):
    # without w_max, W gets its largest weight and B at least W's (the builders' rule)
    layered = loads(LAYERED).network
    net = load(write(tmp_path, _custom_text(layered, tmp_path, w_max=False))).network
    for fwd, fb in net.alignment_pairs():
        w, b = net.projection(fwd), net.projection(fb)
        assert w.w_max == np.max(np.abs(w.weights))
        assert b.w_max == max(np.max(np.abs(b.weights)), w.w_max)


def test_same_network_as_the_recurrent_kind(tmp_path):
    rec = loads("name: r\nkind: recurrent\nnetwork:\n  n: 6\n  seed: 4\nrun:\n  steps: 10\n"
                ).network
    text = _custom_text(rec, tmp_path, extra=", mask: no_self").replace("steps: 2000", "steps: 10")
    _same_network(rec, load(write(tmp_path, text)).network)


def test_weights_inline_npy_and_initializers(tmp_path):
    (tmp_path / "data").mkdir()
    b = np.arange(12.0).reshape(4, 3) / 10
    np.save(tmp_path / "data" / "b.npy", b)
    np.save(tmp_path / "data" / "bias.npy", np.array([0.1, 0.2, 0.3]))
    text = """\
name: forms
kind: custom
network:
  seed: 11
  populations:
    - {name: a, size: 4, bias: [0.1, -0.1, 0.2, -0.2]}
    - {name: b, size: 3, bias: {npy: data/bias.npy}}
    - {name: c, size: 2, bias: {init: uniform, low: -0.3, high: 0.3, seed: 5}}
    - {name: d, size: 2, bias: {init: constant, value: 0.25}}
  projections:
    - {name: ab, pre: a, post: b, weights: {init: uniform, low: -0.2, high: 0.1}}
    - {name: ba, pre: b, post: a, weights: {npy: data/b.npy}, rule: hebbian, eta: 0.01}
    - {name: bc, pre: b, post: c, weights: [[1, 2, 3], [-1, -2, -3.5]]}
    - {name: cd, pre: c, post: d, weights: {init: zeros}, rule: sal}
    - {name: dd, pre: d, post: d, weights: {init: constant, value: -0.5}, mask: [[0, 1], [1, 0]]}
    - {name: cc, pre: c, post: c, weights: {init: normal, mean: 1.0, std: 0.0}}
run:
  steps: 10
"""
    nf = load(write(tmp_path, text))
    net = nf.network
    np.testing.assert_array_equal(net.population("a").bias, [0.1, -0.1, 0.2, -0.2])
    np.testing.assert_array_equal(net.population("b").bias, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(net.population("c").bias,
                                  np.random.default_rng(5).uniform(-0.3, 0.3, 2))
    np.testing.assert_array_equal(net.population("d").bias, [0.25, 0.25])
    ab = net.projection("ab").weights
    assert ab.shape == (3, 4) and ab.min() >= -0.2 and ab.max() <= 0.1 and len(set(ab.flat)) == 12
    np.testing.assert_array_equal(net.projection("ba").weights, b)
    assert (net.projection("ba").rule, net.projection("ba").eta) == ("hebbian", 0.01)
    np.testing.assert_array_equal(net.projection("bc").weights, [[1, 2, 3], [-1, -2, -3.5]])
    np.testing.assert_array_equal(net.projection("cd").weights, np.zeros((2, 2)))
    assert net.projection("cd").eta == 0.05           # the network's eta
    dd = net.projection("dd")
    np.testing.assert_array_equal(dd.mask, [[False, True], [True, False]])
    np.testing.assert_array_equal(dd.weights, [[0, -0.5], [-0.5, 0]])
    np.testing.assert_array_equal(net.projection("cc").weights, np.ones((2, 2)))
    # another seed: only what is drawn without a seed of its own changes
    other = nf.build(12)
    assert not np.array_equal(other.projection("ab").weights, ab)
    np.testing.assert_array_equal(other.projection("ba").weights, b)
    np.testing.assert_array_equal(other.population("c").bias, net.population("c").bias)
    np.testing.assert_array_equal(nf.build(11).projection("ab").weights, ab)
    # what the file said, for metrics.json, and printed compactly
    assert json.loads(json.dumps(nf.params["projections"][1]))["weights"] == {
        "npy": "data/b.npy"}
    assert "<2x3 inline>" in repr(nf.params["projections"][2])


def test_npy_relative_to_the_file_not_the_working_directory(tmp_path, monkeypatch):
    sub = tmp_path / "nets"
    (sub / "data").mkdir(parents=True)
    np.save(sub / "data" / "w.npy", np.full((3, 4), 0.5))
    monkeypatch.chdir(tmp_path)
    text = GOOD.replace("{init: normal, std: 0.3, seed: 3}", "{npy: data/w.npy}")
    nf = load(write(sub, text))
    np.testing.assert_array_equal(nf.network.projection("W1").weights, np.full((3, 4), 0.5))


def test_schedule(tmp_path):
    text = GOOD.replace("  phase: 50\n", """\
  phase: 50
  schedule:
    - {run: 40}
    - {apply: true}
    - {inject: {population: in, neurons: [0, 3], at: 45}}
    - {read: weights}
    - {run: 60}
    - {read: spike_counts}
""")
    nf = load(write(tmp_path, text))
    s = nf.run.schedule
    assert [a.op for a in s] == ["run", "apply", "inject", "read", "run", "read"]
    assert [a.step for a in s] == [0, 40, 40, 40, 40, 100]
    assert (s[0].steps, s[4].steps) == (40, 60)
    assert (s[2].population, s[2].neurons, s[2].at) == ("in", (0, 3), 45)
    assert (s[3].what, s[5].what) == ("weights", "spike_counts")
    assert s[2].line == line_of(text, "inject:") and s[2].path == ("run", "schedule", 2)


def test_schedule_of_a_builder_kind(tmp_path):
    text = LAYERED + "  schedule:\n    - {inject: {population: L2, neurons: [3], at: 0}}\n" \
                     "    - {run: 2000}\n"
    s = load(write(tmp_path, text)).run.schedule
    assert [(a.op, a.population, a.neurons) for a in s] == [
        ("inject", "L2", (3,)), ("run", None, ())]


def test_example_custom_two_layer():
    path = EXAMPLES / "custom-two-layer.yaml"
    nf = load(path)
    net = nf.network
    assert [(p.name, p.size) for p in net.populations] == [("in", 20), ("hid", 12), ("out", 4)]
    np.testing.assert_array_equal(net.projection("B1").weights,
                                  np.load(EXAMPLES / "data" / "custom-two-layer-b1.npy"))
    assert net.projection("W2").weights.shape == (4, 12)
    assert net.projection("W2").weights[1, 10] == 0.29
    assert net.alignment_pairs() == [("W1", "B1"), ("W2", "B2")]
    assert [a.op for a in nf.run.schedule] == ["run", "apply", "inject", "read", "run"]
    nf.quantize()


def test_cli_runs_a_custom_file(tmp_path, capsys):
    from sal_hw.cli import main
    path = write(tmp_path, GOOD)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--steps", "200"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["kind"] == "custom"
    assert m["network"]["projections"][0]["weights"] == {
        "init": "normal", "std": 0.3, "mean": 0.0, "seed": 3}
    assert set(m["runs"][0]["angles"]) == {"B1"}
    assert main(["info", str(path)]) == 0
    assert "small (custom network)" in capsys.readouterr().out


def test_limits_match_the_default_core():
    assert WEIGHT_LIMIT == 127 * 2.0 ** (7 - 12)
    assert BIAS_RANGE == (-8.0, 32767 / 4096)


# -- bad input: each message names the file, the key path, the line and the problem --

def test_unknown_key(tmp_path):
    text, path, err = bad(tmp_path, "rule: sal", "rul: sal")
    check(err, path, "network.projections[1].rul", line_of(text, "rul: sal"),
          "unknown key 'rul'", "did you mean 'rule'", "name, pre, post, weights, rule")


def test_unknown_key_in_a_flow_mapping(tmp_path):
    text, path, err = bad(tmp_path, "size: 3}", "size: 3, bais: 0.1}")
    check(err, path, "network.populations[1].bais", line_of(text, "bais"),
          "unknown key 'bais'", "did you mean 'bias'")


def test_unknown_key_of_the_network(tmp_path):
    text, path, err = bad(tmp_path, "  tau: 10", "  layers: [4, 3]")
    check(err, path, "network.layers", line_of(text, "layers"), "unknown key 'layers'",
          "seed, tau, eta, populations, projections of a custom network")


def test_unknown_initializer_key(tmp_path):
    text, path, err = bad(tmp_path, "{init: normal, std: 0.3, seed: 3}", "{inti: normal}")
    check(err, path, "network.projections[0].weights.inti", line_of(text, "inti"),
          "did you mean 'init'", "{npy: FILE} or {init: normal|uniform|zeros|constant")


@pytest.mark.parametrize("old, new, key_path, fragments", [
    ("size: 4,", "size: four,", "network.populations[0].size",
     ["the string 'four'", "a positive integer"]),
    ("size: 4,", "size: 4.5,", "network.populations[0].size", ["4.5", "a positive integer"]),
    ("name: in,", "name: [in],", "network.populations[0].name", ["a list", "a name"]),
    ("{init: normal, std: 0.3, seed: 3}", "0.3", "network.projections[0].weights",
     ["the number 0.3", "a list of rows of numbers"]),
    ("{init: normal, std: 0.3, seed: 3}", "[0.1, 0.2]", "network.projections[0].weights[0]",
     ["not a row", "a list of rows"]),
    ("{init: normal, std: 0.3, seed: 3}", "{init: normal, std: wide}",
     "network.projections[0].weights.std", ["the string 'wide'", "non-negative number"]),
    ("{init: normal, std: 0.3, seed: 3}", "{init: gauss}", "network.projections[0].weights.init",
     ["'gauss'", "normal, uniform, zeros, constant"]),
    ("rule: sal", "rule: fixed", "network.projections[1].rule",
     ["'fixed'", "off, sal, hebbian", "off: fixed weights"]),
    ("bias: -0.5}", "bias: low}", "network.populations[0].bias", ["the string 'low'", "a number"]),
    ("[0.4, 0.5, 0.6]", "[0.4, x, 0.6]", "network.projections[1].weights[1][1]",
     ["the string 'x'", "a number"]),
    ("[0.4, 0.5, 0.6]", "[0.4, .nan, 0.6]", "network.projections[1].weights[1][1]",
     ["not finite"]),
    ("  populations:\n    - {name: in, size: 4, bias: -0.5}\n    - {name: hid, size: 3}\n",
     "  populations: 2\n", "network.populations", ["the number 2", "a non-empty list"]),
])
def test_wrong_type(tmp_path, old, new, key_path, fragments):
    text, path, err = bad(tmp_path, old, new)
    check(err, path, key_path, line_of(text, new.splitlines()[0].strip()), *fragments)


@pytest.mark.parametrize("new, word", [("size: -4,", "negative"), ("size: 0,", "zero")])
def test_bad_size(tmp_path, new, word):
    text, path, err = bad(tmp_path, "size: 4,", new)
    check(err, path, "network.populations[0].size", line_of(text, new), f"which is {word}",
          "a positive integer (neurons in the population)")


def test_too_many_neurons(tmp_path):
    text, path, err = bad(tmp_path, "{name: hid, size: 3}", "{name: hid, size: 5000}")
    check(err, path, "network.populations[1].size", line_of(text, "5000"),
          "add up to 5004 neurons, more than the 4096 a network may have")


def test_weight_out_of_range_inline(tmp_path):
    text, path, err = bad(tmp_path, "[0.4, 0.5, 0.6]", "[0.4, 4.5, 0.6]")
    check(err, path, "network.projections[1].weights[1][1]", line_of(text, "4.5"),
          "got 4.5, outside the range the core represents", f"at most {WEIGHT_LIMIT:g}",
          "127 * 2**(7 - 12)")


def test_weight_out_of_range_npy(tmp_path):
    w = np.zeros((3, 4))
    w[2, 1] = -5.0
    np.save(tmp_path / "big.npy", w)
    text, path, err = bad(tmp_path, "{init: normal, std: 0.3, seed: 3}", "{npy: big.npy}")
    check(err, path, "network.projections[0].weights.npy", line_of(text, "big.npy"),
          "weight[2][1] is -5", "the file 'big.npy'", "outside the range the core represents")


def test_weight_out_of_range_initializer(tmp_path):
    text, path, err = bad(tmp_path, "std: 0.3, seed: 3}", "std: 3.0, seed: 3}")
    check(err, path, "network.projections[0].weights", line_of(text, "std: 3.0"),
          "the normal initializer (std 3, mean 0)", "outside the range the core represents")


def test_w_max_below_the_weights(tmp_path):
    text, path, err = bad(tmp_path, "      rule: sal\n", "      rule: sal\n      w_max: 0.5\n")
    check(err, path, "network.projections[1].w_max", line_of(text, "w_max"),
          "below the largest initial weight magnitude 0.6 (weights[1][2])", "would clip",
          "a number from 0.6 to 3.96875")


def test_w_max_beyond_the_core(tmp_path):
    text, path, err = bad(tmp_path, "      rule: sal\n", "      rule: sal\n      w_max: 4.5\n")
    check(err, path, "network.projections[1].w_max", line_of(text, "w_max"),
          "more than the core represents")


def test_bias_out_of_range(tmp_path):
    text, path, err = bad(tmp_path, "bias: -0.5}", "bias: [0, 0, 9.5, 0]}")
    check(err, path, "network.populations[0].bias[2]", line_of(text, "9.5"), "got 9.5",
          "outside the range the core represents", "biases from -8 to 7.99976")


def test_missing_npy(tmp_path):
    text, path, err = bad(tmp_path, "{init: normal, std: 0.3, seed: 3}", "{npy: data/w1.npy}")
    check(err, path, "network.projections[0].weights.npy", line_of(text, "w1.npy"),
          "'data/w1.npy': no such file", str(tmp_path / "data" / "w1.npy"),
          "relative to the folder of")


def test_unreadable_npy(tmp_path):
    (tmp_path / "w1.npy").write_text("not numpy at all")
    text, path, err = bad(tmp_path, "{init: normal, std: 0.3, seed: 3}", "{npy: w1.npy}")
    check(err, path, "network.projections[0].weights.npy", line_of(text, "w1.npy"),
          "cannot read 'w1.npy' as a NumPy array", "magic")


def test_npz_instead_of_npy(tmp_path):
    with open(tmp_path / "w1.npy", "wb") as f:            # an archive, whatever its name
        np.savez(f, w=np.zeros((3, 4)))
    text, path, err = bad(tmp_path, "{init: normal, std: 0.3, seed: 3}", "{npy: w1.npy}")
    check(err, path, "network.projections[0].weights.npy", line_of(text, "w1.npy"), ".npz")


def test_npy_of_text(tmp_path):
    np.save(tmp_path / "w1.npy", np.full((3, 4), "x"))
    text, path, err = bad(tmp_path, "{init: normal, std: 0.3, seed: 3}", "{npy: w1.npy}")
    check(err, path, "network.projections[0].weights.npy", line_of(text, "w1.npy"),
          "holds <U1 values, not numbers")


def test_npy_with_nan(tmp_path):
    w = np.zeros((3, 4))
    w[1, 2] = np.inf
    np.save(tmp_path / "w1.npy", w)
    text, path, err = bad(tmp_path, "{init: normal, std: 0.3, seed: 3}", "{npy: w1.npy}")
    check(err, path, "network.projections[0].weights.npy", line_of(text, "w1.npy"),
          "holds inf at [1][2]", "finite numbers")


@pytest.mark.parametrize("end, old, new", [
    ("pre", "pre: in,", "pre: inn,"),
    ("post", "post: hid,", "post: hidden,"),
])
def test_projection_between_unknown_populations(tmp_path, end, old, new):
    text, path, err = bad(tmp_path, old, new)
    check(err, path, f"network.projections[0].{end}", line_of(text, new),
          f"projection 'W1': no population '{new.split()[1][:-1]}'", "did you mean",
          "one of the populations in, hid")


def test_not_yaml(tmp_path):
    path, err = error_of(tmp_path, GOOD.replace("{name: hid, size: 3}", "{name: hid, size: 3"))
    check(err, path, None, line_of(GOOD, "projections:"), "not valid YAML")


def test_not_a_mapping(tmp_path):
    path, err = error_of(tmp_path, "- kind: custom\n- network: {}\n")
    check(err, path, None, 1, "the file holds a list, not a mapping")


def test_weights_of_the_wrong_shape_inline(tmp_path):
    text, path, err = bad(tmp_path, ", [0.0, 0.25, -0.5]]", "]")
    check(err, path, "network.projections[1].weights", line_of(text, "[[0.1"),
          "got 3 rows of 3, shape (3, 3)", "expected shape (4, 3)",
          "one row per neuron of 'in', one column per neuron of 'hid'")


def test_weights_transposed_in_npy(tmp_path):
    np.save(tmp_path / "w1.npy", np.zeros((4, 3)))
    text, path, err = bad(tmp_path, "{init: normal, std: 0.3, seed: 3}", "{npy: w1.npy}")
    check(err, path, "network.projections[0].weights.npy", line_of(text, "w1.npy"),
          "holds an array of shape (4, 3)", "the transpose", "expected shape (3, 4): (post, pre)")


def test_ragged_rows(tmp_path):
    text, path, err = bad(tmp_path, "[0.4, 0.5, 0.6]", "[0.4, 0.5]")
    check(err, path, "network.projections[1].weights[1]", line_of(text, "[[0.1"),
          "row 1 has 2 entries, row 0 has 3")


def test_bias_of_the_wrong_length(tmp_path):
    text, path, err = bad(tmp_path, "bias: -0.5}", "bias: [0.1, 0.2]}")
    check(err, path, "network.populations[0].bias", line_of(text, "[0.1, 0.2]"),
          "got 2 entries", "shape (4,): one bias per neuron of population 'in'")


def test_duplicate_population(tmp_path):
    text, path, err = bad(tmp_path, "{name: hid, size: 3}", "{name: in, size: 3}")
    check(err, path, "network.populations[1].name", line_of(text, "{name: in, size: 3}"),
          "population 'in' is defined twice", "network.populations[0], line 8",
          "a name no other population has")


def test_duplicate_projection(tmp_path):
    text, path, err = bad(tmp_path, "    - name: B1\n", "    - name: W1\n")
    check(err, path, "network.projections[1].name", line_of(text, "- name: W1"),
          "projection 'W1' is defined twice", "network.projections[0], line 11")


def test_two_projections_between_the_same_populations(tmp_path):
    text, path, err = bad(tmp_path, "      pre: hid\n      post: in\n",
                          "      pre: in\n      post: hid\n")
    check(err, path, "network.projections[1]", line_of(text, "- name: B1"),
          "connects in -> hid like network.projections[0], line 11",
          "one weight per (pre, post) neuron pair")


def test_no_self_mask_needs_one_population(tmp_path):
    text, path, err = bad(tmp_path, "seed: 3}}", "seed: 3}, mask: no_self}")
    check(err, path, "network.projections[0].mask", line_of(text, "no_self"),
          "from a population onto itself")


def test_mask_entries(tmp_path):
    mask = "[[1, 1, 1], [1, 2, 1], [1, 1, 1], [1, 1, 1]]"
    text, path, err = bad(tmp_path, "      rule: sal\n", f"      rule: sal\n      mask: {mask}\n")
    check(err, path, "network.projections[1].mask[1][1]", line_of(text, "mask:"),
          "the number 2", "0, 1, true or false")


def test_missing_populations(tmp_path):
    start, end = GOOD.index("  populations:"), GOOD.index("  projections:")
    path, err = error_of(tmp_path, GOOD[:start] + GOOD[end:])
    check(err, path, "network.populations", 3, "missing required key 'populations'")


SCHEDULE = "  schedule:\n    - {run: 50}\n    - ITEM\n    - {run: 50}\n"


@pytest.mark.parametrize("item, key_path, fragments", [
    ("{inject: {population: out, neurons: [0], at: 60}}", "run.schedule[1].inject.population",
     ["no population 'out'", "one of the populations in, hid"]),
    ("{inject: {population: in, neurons: [0, 4], at: 60}}",
     "run.schedule[1].inject.neurons[1]", ["got 4; population 'in' has 4 neurons",
                                           "an index from 0 to 3"]),
    ("{inject: {population: in, neurons: [0], at: 40}}", "run.schedule[1].inject.at",
     ["step 40 is in the past", "at least 50"]),
    ("{inject: {population: in, neurons: [0], at: 100}}", "run.schedule[1].inject.at",
     ["step 100 is never run", "from 50 to 99"]),
    ("{inject: {population: in, neurons: [0]}}", "run.schedule[1].inject.at",
     ["missing required key 'at'"]),
    ("{aply: true}", "run.schedule[1].aply", ["did you mean 'apply'",
                                              "run, apply, inject, read"]),
    ("{apply: false}", "run.schedule[1].apply", ["got false", "true"]),
    ("{read: weight}", "run.schedule[1].read", ["did you mean 'weights'",
                                                "weights, spike_counts, angles"]),
    ("{run: 10, apply: true}", "run.schedule[1]", ["got 2 keys (run, apply)"]),
    ("{run: 0}", "run.schedule[1].run", ["zero"]),
])
def test_bad_schedule_item(tmp_path, item, key_path, fragments):
    text = GOOD + SCHEDULE.replace("ITEM", item)
    path, err = error_of(tmp_path, text)
    check(err, path, key_path, line_of(text, item), *fragments)


def test_schedule_must_add_up_to_steps(tmp_path):
    text = GOOD + "  schedule:\n    - {run: 60}\n"
    path, err = error_of(tmp_path, text)
    check(err, path, "run.schedule", line_of(text, "schedule:"),
          "the run items add up to 60 steps; run.steps is 100")
