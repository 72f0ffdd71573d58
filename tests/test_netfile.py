"""Network files: valid files build the right network; every bad one says where and why."""

from pathlib import Path

import numpy as np
import pytest

from sal_hw.netfile import KINDS, NetfileError, format_path, load, loads

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

GOOD = """\
name: tiny
kind: layered
network:
  layers: [8, 8, 4]
  tau: 10
  eta: 0.05
  b_rule: sal
  seed: 3
run:
  steps: 2000
  phase: 500
  record_every: 500
  model: fixed
"""


def write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(NetfileError) as info:
        load(path)
    return path, info.value


def check(err, path, key_path, line, *fragments):
    """The message names the file, the line (when known), the key path and the problem."""
    msg = str(err)
    assert str(path) in msg
    assert err.file == str(path)
    if line is not None:
        assert f"{path}:{line}:" in msg, msg
        assert err.line == line
    if key_path:
        assert key_path in msg, msg
        assert format_path(err.path) == key_path
    for fragment in fragments:
        assert fragment in msg, msg


# -- valid files -------------------------------------------------------------

def test_good_file_builds_the_network(tmp_path):
    nf = load(write(tmp_path, GOOD))
    net = nf.network
    assert nf.name == net.name == "tiny"
    assert nf.kind == "layered"
    assert [p.size for p in net.populations] == [8, 8, 4]
    assert {pr.name: pr.rule for pr in net.projections} == {
        "W1": "off", "B1": "sal", "W2": "off", "B2": "sal"}
    assert net.projection("B1").eta == 0.05
    assert net.tau_ref == net.tau_syn == 10
    assert net.seed == 3
    assert (nf.run.steps, nf.run.phase, nf.run.record_every, nf.run.model) == (
        2000, 500, 500, "fixed")
    assert nf.run.seeds == [3]          # default: the network's seed


def test_defaults_come_from_the_builder(tmp_path):
    text = "name: r\nkind: recurrent\nnetwork:\n  n: 16\nrun:\n  steps: 100\n"
    nf = load(write(tmp_path, text))
    assert nf.params == {"n": 16, "tau": 10, "eta": 0.05, "seed": 1, "rule": "sal"}
    assert (nf.run.phase, nf.run.record_every, nf.run.model, nf.run.seeds) == (
        1000, 1000, "fixed", [1])
    assert nf.network.size == 16


def test_build_with_another_seed_changes_the_weights(tmp_path):
    nf = load(write(tmp_path, GOOD))
    other = nf.build(7)
    assert other.seed == 7
    assert not np.array_equal(other.projection("W1").weights, nf.network.projection("W1").weights)
    np.testing.assert_array_equal(nf.build(3).projection("B1").weights,
                                  nf.network.projection("B1").weights)


def test_example_salnet_s():
    nf = load(EXAMPLES / "salnet-s.yaml")
    net = nf.network
    assert [p.size for p in net.populations] == [64, 64, 32, 10]
    assert all(pr.rule == ("sal" if pr.name.startswith("B") else "off") for pr in net.projections)
    assert all(pr.eta == 0.05 for pr in net.projections if pr.name.startswith("B"))
    assert net.tau_ref == 10 and net.seed == 1
    assert (nf.run.steps, nf.run.phase, nf.run.record_every, nf.run.model, nf.run.seeds) == (
        40000, 1000, 1000, "fixed", [1, 2, 3])


def test_example_salnet_s_off():
    nf = load(EXAMPLES / "salnet-s-off.yaml")
    assert [p.size for p in nf.network.populations] == [64, 64, 32, 10]
    assert all(pr.rule == "off" and not pr.plastic for pr in nf.network.projections)
    assert nf.run.seeds == [1]
    on = load(EXAMPLES / "salnet-s.yaml").network
    for pr in on.projections:   # same initial weights as the SAL run
        np.testing.assert_array_equal(pr.weights, nf.network.projection(pr.name).weights)


def test_example_pair():
    nf = load(EXAMPLES / "pair.yaml")
    net = nf.network
    assert [p.size for p in net.populations] == [1, 1]
    assert net.projection("ab").weights[0, 0] == 1.5
    assert net.projection("ba").weights[0, 0] == 0.5
    assert all(pr.rule == "sal" and pr.eta == 0.03 for pr in net.projections)
    assert net.tau_ref == 25
    assert (nf.run.steps, nf.run.phase) == (150000, 1500)


def test_example_recurrent():
    nf = load(EXAMPLES / "recurrent-256.yaml")
    net = nf.network
    assert net.size == 256
    r = net.projection("R")
    assert r.rule == "sal" and int(r.mask.sum()) == 256 * 255
    assert nf.run.steps == 20000


def test_every_example_quantizes():
    for path in EXAMPLES.glob("*.yaml"):
        load(path).quantize()


def test_loads_names_the_given_file():
    with pytest.raises(NetfileError, match=r"^text\.yaml:2: kind: got the number 5"):
        loads(GOOD.replace("kind: layered", "kind: 5"), "text.yaml")
    assert loads(GOOD).name == "tiny"


def test_netfile_error_is_a_value_error():
    assert issubclass(NetfileError, ValueError)


# -- files that are not network files ----------------------------------------

def test_not_yaml(tmp_path):
    path, err = error_of(tmp_path, "name: x\nkind: [layered\nnetwork: {}\n")
    check(err, path, None, 3, "not valid YAML")


def test_not_yaml_tab(tmp_path):
    path, err = error_of(tmp_path, "name: x\nrun:\n\tsteps: 5\n")
    check(err, path, None, 3, "not valid YAML")


def test_not_a_mapping(tmp_path):
    path, err = error_of(tmp_path, "- layered\n- 64\n")
    check(err, path, None, 1, "a list, not a mapping", "expected a mapping with the keys")


def test_scalar_document(tmp_path):
    path, err = error_of(tmp_path, "just words\n")
    check(err, path, None, 1, "not a mapping")


def test_empty_file(tmp_path):
    path, err = error_of(tmp_path, "# nothing here\n")
    check(err, path, None, 1, "empty")


def test_two_documents(tmp_path):
    path, err = error_of(tmp_path, GOOD + "---\nname: again\n")
    check(err, path, None, 14, "not valid YAML", "single document")


def test_missing_file(tmp_path):
    with pytest.raises(NetfileError) as info:
        load(tmp_path / "nope.yaml")
    check(info.value, tmp_path / "nope.yaml", None, None, "no such file")


def test_folder(tmp_path):
    with pytest.raises(NetfileError) as info:
        load(tmp_path)
    check(info.value, tmp_path, None, None, "folder")


def test_binary_file(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(NetfileError) as info:
        load(path)
    check(info.value, path, None, None, "not a text file")


# -- unknown keys ------------------------------------------------------------

def test_unknown_top_level_key(tmp_path):
    path, err = error_of(tmp_path, GOOD + "runs: 3\n")
    check(err, path, "runs", 14, "unknown key 'runs'", "name, kind, network, run")


def test_unknown_network_key(tmp_path):
    path, err = error_of(tmp_path, GOOD.replace("  tau: 10", "  tua: 10"))
    check(err, path, "network.tua", 5, "unknown key 'tua'", "did you mean 'tau'",
          "layers, tau, eta, seed, b_rule")


def test_unknown_key_of_the_kind(tmp_path):
    # 'rule' is a recurrent network's key, not a layered one's
    path, err = error_of(tmp_path, GOOD.replace("  b_rule: sal", "  rule: sal"))
    check(err, path, "network.rule", 7, "unknown key 'rule'", "b_rule")


def test_unknown_run_key(tmp_path):
    path, err = error_of(tmp_path, GOOD + "  record: 5\n")
    check(err, path, "run.record", 14, "unknown key 'record'",
          "steps, phase, record_every, model, seeds")


def test_key_that_is_not_a_name(tmp_path):
    path, err = error_of(tmp_path, GOOD + "  5: x\n")
    check(err, path, "run", 14, "not a name")


def test_duplicate_key(tmp_path):
    path, err = error_of(tmp_path, GOOD + "  steps: 10\n")
    check(err, path, "run.steps", 14, "duplicate key 'steps'", "line 10")


# -- missing keys ------------------------------------------------------------

@pytest.mark.parametrize("key, line", [("name", 1), ("kind", 1), ("network", 1), ("run", 1)])
def test_missing_top_level_key(tmp_path, key, line):
    lines = GOOD.splitlines()
    start = next(i for i, s in enumerate(lines) if s.startswith(key + ":"))
    end = start + 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    path, err = error_of(tmp_path, "\n".join(lines[:start] + lines[end:]) + "\n")
    check(err, path, key, line, f"missing required key {key!r}")


def test_missing_layers(tmp_path):
    path, err = error_of(tmp_path, GOOD.replace("  layers: [8, 8, 4]\n", ""))
    check(err, path, "network.layers", 3, "missing required key 'layers'",
          "a list of at least 2 items")


def test_missing_steps(tmp_path):
    path, err = error_of(tmp_path, GOOD.replace("  steps: 2000\n", ""))
    check(err, path, "run.steps", 9, "missing required key 'steps'", "a positive integer")


def test_missing_recurrent_n(tmp_path):
    path, err = error_of(tmp_path, "name: r\nkind: recurrent\nnetwork:\n  tau: 10\n"
                                   "run:\n  steps: 10\n")
    check(err, path, "network.n", 3, "missing required key 'n'", "at least 2")


# -- wrong types -------------------------------------------------------------

@pytest.mark.parametrize("old, new, key_path, line, fragments", [
    ("[8, 8, 4]", "[8, 8, x]", "network.layers[2]", 4, ["the string 'x'", "positive integer"]),
    ("[8, 8, 4]", "[8, 8.5, 4]", "network.layers[1]", 4, ["8.5", "positive integer"]),
    ("[8, 8, 4]", "[8, 8.0, 4]", "network.layers[1]", 4, ["not written as an integer"]),
    ("[8, 8, 4]", "8", "network.layers", 4, ["the number 8", "a list"]),
    ("[8, 8, 4]", "[8]", "network.layers", 4, ["got 1 item", "at least 2"]),
    ("tau: 10", "tau: ten", "network.tau", 5, ["the string 'ten'", "a positive integer"]),
    ("eta: 0.05", "eta: fast", "network.eta", 6, ["the string 'fast'", "a non-negative number"]),
    ("eta: 0.05", "eta: 5e-2", "network.eta", 6, ["5e-2", "5.0e-2"]),
    ("eta: 0.05", "eta: .nan", "network.eta", 6, ["not finite"]),
    ("b_rule: sal", "b_rule: sall", "network.b_rule", 7, ["did you mean 'sal'",
                                                          "one of off, sal, hebbian"]),
    ("b_rule: sal", "b_rule: off", "network.b_rule", 7, ["true/false", "quote"]),
    ("seed: 3", "seed: yes", "network.seed", 8, ["true/false", "non-negative integer"]),
    ("steps: 2000", "steps: [2000]", "run.steps", 10, ["a list", "positive integer"]),
    ("model: fixed", "model: fpga", "run.model", 13, ["'fpga'", "one of fixed, float"]),
    ("kind: layered", "kind: layer", "kind", 2, ["'layer'", "layered, pair, recurrent"]),
    ("name: tiny", "name: ../tiny", "name", 1, ["'../tiny'", "letters, digits"]),
    ("name: tiny", "name: 5", "name", 1, ["the number 5", "a name"]),
])
def test_wrong_type(tmp_path, old, new, key_path, line, fragments):
    assert old in GOOD
    path, err = error_of(tmp_path, GOOD.replace(old, new, 1))
    check(err, path, key_path, line, *fragments)


def test_network_not_a_mapping(tmp_path):
    path, err = error_of(tmp_path, "name: x\nkind: layered\nnetwork: [8, 8, 4]\n"
                                   "run:\n  steps: 10\n")
    check(err, path, "network", 3, "a list", "a mapping")


def test_wrong_seeds(tmp_path):
    path, err = error_of(tmp_path, GOOD + "  seeds: [1, two]\n")
    check(err, path, "run.seeds[1]", 14, "the string 'two'", "non-negative integer")
    path, err = error_of(tmp_path, GOOD + "  seeds: []\n")
    check(err, path, "run.seeds", 14, "got 0 items", "non-empty list")
    path, err = error_of(tmp_path, GOOD + "  seeds: [1, 2, 1]\n")
    check(err, path, "run.seeds[2]", 14, "1 is repeated")


def test_pair_weights_need_two(tmp_path):
    text = "name: p\nkind: pair\nnetwork:\n  w: [1.5, 0.5, 0.1]\nrun:\n  steps: 10\n"
    path, err = error_of(tmp_path, text)
    check(err, path, "network.w", 4, "got 3 items", "a list of 2 items")


def test_pair_plastic_choice(tmp_path):
    text = "name: p\nkind: pair\nnetwork:\n  plastic: all\nrun:\n  steps: 10\n"
    path, err = error_of(tmp_path, text)
    check(err, path, "network.plastic", 4, "'all'", "both, ab, ba, none")


# -- sizes that are negative or zero -----------------------------------------

@pytest.mark.parametrize("old, new, key_path, line, word", [
    ("[8, 8, 4]", "[8, 8, -3]", "network.layers[2]", 4, "negative"),
    ("[8, 8, 4]", "[8, 0, 4]", "network.layers[1]", 4, "zero"),
    ("tau: 10", "tau: 0", "network.tau", 5, "zero"),
    ("eta: 0.05", "eta: -0.05", "network.eta", 6, "negative"),
    ("seed: 3", "seed: -1", "network.seed", 8, "negative"),
    ("steps: 2000", "steps: 0", "run.steps", 10, "zero"),
    ("phase: 500", "phase: -500", "run.phase", 11, "negative"),
    ("record_every: 500", "record_every: 0", "run.record_every", 12, "zero"),
])
def test_bad_sizes(tmp_path, old, new, key_path, line, word):
    path, err = error_of(tmp_path, GOOD.replace(old, new))
    check(err, path, key_path, line, word)


def test_recurrent_needs_two_neurons(tmp_path):
    path, err = error_of(tmp_path, "name: r\nkind: recurrent\nnetwork:\n  n: 1\n"
                                   "run:\n  steps: 10\n")
    check(err, path, "network.n", 4, "got 1", "at least 2")


# -- errors from the builders and the quantizer ------------------------------

def test_builder_error_names_the_file(tmp_path, monkeypatch):
    def broken(args, name):
        raise ValueError("layer sizes do not add up")
    monkeypatch.setattr(KINDS["layered"], "build", broken)
    path, err = error_of(tmp_path, GOOD)
    check(err, path, "network", 3, "cannot build the network", "layer sizes do not add up")


def test_quantize_error_names_the_file(tmp_path):
    # tau 40 needs a 79-tap kernel; the core's history is 64 steps
    nf = load(write(tmp_path, GOOD.replace("tau: 10", "tau: 40")))
    with pytest.raises(NetfileError) as info:
        nf.quantize()
    check(info.value, tmp_path / "net.yaml", "network", 3, "does not fit the fixed-point core",
          "history")
