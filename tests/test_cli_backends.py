"""`sal-hw run` end to end on the golden and rtl backends: the same bits either way.

The same network file runs on the in-process golden emulator and on the
Verilated chip (the rtl backend: a simulator behind a socket bridge), both
through the CLI; the saved weights, the spike counts and every recorded
angle must be identical.  The chip shape is the one tests/test_rtl_backend.py
uses, so the Verilator build is shared.
"""

import json

import numpy as np

from sal_hw.cli import main

NET = """\
name: duo
kind: custom
network:
  seed: 4
  tau: 6
  eta: 0.4
  populations:
    - {name: a, size: 12, bias: -0.3}
    - {name: b, size: 8, bias: {init: uniform, low: -0.4, high: 0.2, seed: 2}}
  projections:
    - {name: W1, pre: a, post: b, weights: {init: normal, std: 0.6, seed: 5}}
    - {name: B1, pre: b, post: a, weights: {init: normal, std: 0.6, seed: 6}, rule: sal}
run:
  steps: 1200
  phase: 200
  record_every: 300
  model: fixed
  schedule:
    - {run: 500}
    - {inject: {population: a, neurons: [0, 1, 2], at: 503}}
    - {apply: true}
    - {run: 700}
"""
SHAPE = ["--cores", "2", "--neurons", "16", "--axons", "32", "--history", "16",
         "--route-entries", "256", "--inject-depth", "32"]


def run(tmp_path, backend):
    net = tmp_path / "duo.yaml"
    net.write_text(NET)
    out = tmp_path / backend
    assert main(["run", str(net), "--backend", backend, "--out", str(out), "--quiet"]
                + SHAPE) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    with np.load(out / "weights.npz") as w:
        weights = {k: w[k] for k in w.files}
    return metrics, weights


def test_golden_and_rtl_backends_give_the_same_bits(tmp_path, capsys):
    gm, gw = run(tmp_path, "golden")
    rm, rw = run(tmp_path, "rtl")
    assert gm["backend"] == "golden" and rm["backend"] == "rtl"
    assert gw.keys() == rw.keys() == {"W1_seed4", "B1_seed4"}
    for k in gw:
        assert np.array_equal(gw[k], rw[k]), k
    g, r = gm["runs"][0], rm["runs"][0]
    assert g["spike_counts"] == r["spike_counts"] and sum(g["spike_counts"]) > 100
    assert g["spikes"] == r["spikes"]
    assert g["angles"] == r["angles"] and g["steps"] == r["steps"] == [0, 300, 600, 900, 1200]
    # it learned: B1 moved towards W1^T
    assert g["angles"]["B1"][-1] < g["angles"]["B1"][0]
    out = capsys.readouterr().out
    assert "(rtl backend)" in out and "(golden backend)" in out


def test_serial_backend_same_bits_and_bad_input_sends_nothing(tmp_path, capsys):
    from test_serial_backend import PtyBoard
    from test_driver import LossyLink
    gm, gw = run(tmp_path, "golden")
    link = LossyLink(3, p=0.05)
    board = PtyBoard(link)
    try:
        net = tmp_path / "duo.yaml"
        out = tmp_path / "serial"
        assert main(["run", str(net), "--backend", "serial", "--port", board.port,
                     "--out", str(out), "--quiet"]) == 0
        sm = json.loads((out / "metrics.json").read_text())
        with np.load(out / "weights.npz") as w:
            for k in gw:
                assert np.array_equal(gw[k], w[k]), k
        assert sm["runs"][0]["spike_counts"] == gm["runs"][0]["spike_counts"]
        assert link.damaged > 0

        # bad input: refused before anything but INFO reaches the board, nothing written
        chip = board.emulator.chip
        before = (chip.snapshot(), chip.frames_accepted)
        (tmp_path / "w.npy").write_bytes(b"not numpy")
        bad_files = {
            "unknown key": (NET.replace("bias: -0.3", "bais: -0.3"), "unknown key 'bais'"),
            "wrong type": (NET.replace("size: 12", "size: twelve"), "got the string 'twelve'"),
            "negative size": (NET.replace("size: 12", "size: -12"), "which is negative"),
            "weights out of range": (NET.replace("std: 0.6, seed: 5", "std: 30, seed: 5"),
                                     "outside the range the core represents"),
            "missing npy": (NET.replace("{init: normal, std: 0.6, seed: 6}", "{npy: gone.npy}"),
                            "no such file"),
            "bad npy": (NET.replace("{init: normal, std: 0.6, seed: 6}", "{npy: w.npy}"),
                        "cannot read 'w.npy'"),
            "unknown population": (NET.replace("pre: a, post: b", "pre: c, post: b"),
                                   "no population 'c'"),
            "not YAML": ("name: [unclosed\n", "not valid YAML"),
            "too large for the chip": (NET.replace("size: 12", "size: 40"),
                                       "does not fit the chip"),
        }
        for what, (text, message) in bad_files.items():
            bad = tmp_path / "bad.yaml"
            bad.write_text(text)
            assert main(["run", str(bad), "--backend", "serial", "--port", board.port,
                         "--out", str(tmp_path / "bad")]) == 2, what
            err = capsys.readouterr().err
            assert message in err and "bad.yaml" in err, (what, err)
            assert not (tmp_path / "bad").exists(), what
        assert chip.snapshot() == before[0]
        assert chip.frames_accepted - before[1] <= 1        # at most one INFO request
    finally:
        board.close()
