"""The sal-hw command, run in-process on tiny network files (and once on a real example)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sal_hw.cli import main
from sal_hw.netfile import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PNG = b"\x89PNG\r\n\x1a\n"

TINY = """\
name: tiny
kind: layered
network:
  layers: [8, 8, 4]
  tau: 10
  eta: 0.05
  b_rule: sal
  seed: 1
run:
  steps: 2000
  phase: 500
  record_every: 500
  model: fixed
  seeds: [1, 2]
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_run_writes_everything(tiny, tmp_path, capsys):
    out = tmp_path / "result"
    assert main(["run", str(tiny), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["angles.png", "metrics.json", "raster.png",
                                                     "weights.npz"]
    assert (out / "angles.png").read_bytes()[:8] == PNG
    assert (out / "raster.png").read_bytes()[:8] == PNG

    m = json.loads((out / "metrics.json").read_text())
    assert (m["name"], m["model"], m["steps"], m["phase"], m["seeds"]) == (
        "tiny", "fixed", 2000, 500, [1, 2])
    assert [r["seed"] for r in m["runs"]] == [1, 2]
    for r in m["runs"]:
        assert r["steps"] == [0, 500, 1000, 1500, 2000]
        assert set(r["angles"]) == {"B1", "B2"}
        for values in r["angles"].values():
            assert len(values) == 2000 // 500 + 1
            assert all(0 <= v <= 180 for v in values)
        assert r["steps_per_second"] > 0
        assert 0 < r["spikes_per_neuron_per_step"] < 1
        assert r["spikes"] == pytest.approx(r["spikes_per_neuron_per_step"] * 20 * 2000)
        assert set(r["quantization"]["weights"]) == {"W1", "B1", "W2", "B2"}
        assert r["quantization"]["weights"]["B1"]["lsb"] > 0
    for k, mean in m["mean_angles"].items():
        np.testing.assert_allclose(mean, np.mean([r["angles"][k] for r in m["runs"]], axis=0))

    # final weights in network units, one entry per projection and seed
    nf = load(tiny)
    with np.load(out / "weights.npz") as w:
        assert set(w.files) == {f"{p}_seed{s}" for p in ("W1", "B1", "W2", "B2") for s in (1, 2)}
        for seed in (1, 2):
            net = nf.build(seed)
            for pr in net.projections:
                assert w[f"{pr.name}_seed{seed}"].shape == pr.weights.shape
            # W is fixed: it ends as its initial value, quantized
            lsb = m["runs"][seed - 1]["quantization"]["weights"]["W1"]["lsb"]
            np.testing.assert_allclose(w[f"W1_seed{seed}"], net.projection("W1").weights,
                                       atol=lsb / 2 + 1e-12)
            # the final angle on record is the one of the saved weights
            b, f = w[f"B1_seed{seed}"], w[f"W1_seed{seed}"]
            cos = np.sum(f * b.T) / (np.linalg.norm(f) * np.linalg.norm(b))
            final = m["runs"][seed - 1]["angles"]["B1"][-1]
            assert np.degrees(np.arccos(cos)) == pytest.approx(final)

    # a line per record, then the summary table
    records = re.findall(r"^seed (\d)  step +(\d+)  B1 +[\d.]+  B2 +[\d.]+$", stdout, re.M)
    assert records == [(s, str(t)) for s in "12" for t in (0, 500, 1000, 1500, 2000)]
    assert "tiny: fixed model, 2000 steps, 20 neurons, seeds 1, 2" in stdout
    for header in ("angle (degrees)", "start", "end", "seed 1", "seed 2",
                   "spikes/neuron/step", "steps/s"):
        assert header in stdout
    assert "B1 vs W1^T (L1->L0)" in stdout and "B2 vs W2^T (L2->L1)" in stdout
    assert str(out) in stdout


def test_run_quiet_and_overrides(tiny, tmp_path, capsys):
    out = tmp_path / "o"
    code = main(["run", str(tiny), "--out", str(out), "--quiet", "--model", "float",
                 "--steps", "1000", "--seeds", "4"])
    assert code == 0
    captured = capsys.readouterr()
    assert "step 500" not in captured.out          # no line per record
    assert "tiny: float model, 1000 steps, 20 neurons, seed 4" in captured.out
    assert "spikes/neuron/step" in captured.out
    assert "seed 4:" not in captured.err           # no progress bar
    m = json.loads((out / "metrics.json").read_text())
    assert (m["model"], m["steps"], m["seeds"]) == ("float", 1000, [4])
    assert len(m["runs"][0]["angles"]["B1"]) == 1000 // 500 + 1
    assert "quantization" not in m["runs"][0]      # float model: nothing quantized
    with np.load(out / "weights.npz") as w:
        assert set(w.files) == {"W1_seed4", "B1_seed4", "W2_seed4", "B2_seed4"}


def test_progress_bar_on_stderr(tiny, tmp_path, capsys):
    assert main(["run", str(tiny), "--out", str(tmp_path / "o"), "--seeds", "1"]) == 0
    err = capsys.readouterr().err
    assert "seed 1" in err and "B1=" in err and "B2=" in err


def test_default_output_folder(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tiny), "--quiet", "--seeds", "1", "--steps", "500"]) == 0
    assert (tmp_path / "out" / "tiny" / "metrics.json").is_file()


def test_pair_writes_weights_plot(tmp_path, capsys):
    net = tmp_path / "pair.yaml"
    net.write_text("name: p\nkind: pair\nnetwork:\n  w: [1.5, 0.5]\n"
                   "run:\n  steps: 3000\n  phase: 1500\n  record_every: 1500\n")
    out = tmp_path / "o"
    assert main(["run", str(net), "--out", str(out), "--quiet"]) == 0
    assert (out / "weights.png").read_bytes()[:8] == PNG
    m = json.loads((out / "metrics.json").read_text())
    ab, ba = m["runs"][0]["weights"]["ab"], m["runs"][0]["weights"]["ba"]
    assert (ab[0], ba[0]) == (1.5, 0.5) and len(ab) == 3
    assert ab[-1] + ba[-1] == pytest.approx(2.0, abs=0.02)   # SAL's updates are antisymmetric
    assert "ab (a->b)" in capsys.readouterr().out


def test_recurrent_reports_symmetry(tmp_path, capsys):
    net = tmp_path / "rec.yaml"
    net.write_text("name: r\nkind: recurrent\nnetwork:\n  n: 16\n"
                   "run:\n  steps: 1000\n  phase: 500\n  record_every: 500\n")
    assert main(["run", str(net), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert "R vs R^T (N->N)" in capsys.readouterr().out
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert len(m["runs"][0]["angles"]["R (symmetry)"]) == 3


# -- bad input ---------------------------------------------------------------

def test_bad_file_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("[8, 8, 4]", "[8, -8, 4]"))
    out = tmp_path / "o"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert f"{bad}:4: network.layers[1]: got -8, which is negative" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert not out.exists()


def test_file_that_does_not_quantize_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("tau: 10", "tau: 40"))
    out = tmp_path / "o"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "does not fit the chip" in err and "kernel has 79 taps" in err
    assert not out.exists()
    # the float model has no such limit
    assert main(["run", str(bad), "--out", str(out), "--model", "float", "--quiet",
                 "--steps", "500", "--seeds", "1"]) == 0


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--seeds", "1,x"], ["--seeds", "1,1"], ["--steps", "0"],
                                  ["--model", "fpga"]])
def test_bad_options_exit_2(tiny, tmp_path, capsys, args):
    with pytest.raises(SystemExit) as info:
        main(["run", str(tiny), "--out", str(tmp_path / "o")] + args)
    assert info.value.code == 2
    assert "usage: sal-hw run" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_no_command(capsys):
    assert main([]) == 2
    assert "usage: sal-hw" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--help"], ["usage: sal-hw", "run", "info"]),
    (["run", "--help"], ["usage: sal-hw run", "NETWORK.yaml", "--model", "--steps", "--seeds",
                         "--out", "--quiet"]),
    (["info", "--help"], ["usage: sal-hw info", "NETWORK.yaml", "quantization"]),
])
def test_help(capsys, argv, words):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    for word in words:
        assert word in out


# -- sal-hw info ---------------------------------------------------------------

def test_info(tiny, capsys):
    assert main(["info", str(tiny)]) == 0
    out = capsys.readouterr().out
    assert "tiny (layered network)" in out
    assert "populations: 3, 20 neurons" in out
    assert "projections: 4, 192 synapses" in out       # 2 * (8*8 + 4*8)
    for name in ("L0", "L1", "L2", "W1", "B1", "W2", "B2"):
        assert name in out
    for header in ("LSB", "max error", "rms error", "eta error"):
        assert header in out
    assert "chip: 1 core of 256 neurons and 256 axons" in out or \
        "chip: 1 cores of 256 neurons and 256 axons" in out
    assert re.search(r"neurons per core +20 +256", out)
    assert "fits: yes" in out


def test_info_too_big_for_one_core(tmp_path, capsys):
    net = tmp_path / "big.yaml"
    net.write_text("name: big\nkind: recurrent\nnetwork:\n  n: 300\nrun:\n  steps: 10\n")
    assert main(["info", str(net)]) == 0
    out = capsys.readouterr().out
    assert "89700 synapses" in out
    assert "fits the chip (1 core of 256 neurons, 256 axons): no" in out
    assert "needs 2 cores of 256 neurons; the chip has 1" in out
    assert main(["info", str(net), "--cores", "2", "--axons", "512"]) == 0
    assert "fits: yes" in capsys.readouterr().out     # two cores with 512 axons each hold it


def test_info_examples(capsys):
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert main(["info", str(path)]) == 0
        assert "fits: yes" in capsys.readouterr().out


# -- the real example and the installed entry points ---------------------------

def test_salnet_s_example(tmp_path, capsys):
    out = tmp_path / "salnet-s"
    code = main(["run", str(EXAMPLES / "salnet-s.yaml"), "--steps", "2000", "--seeds", "1",
                 "--out", str(out), "--quiet"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "salnet-s: fixed model, 2000 steps, 170 neurons, seed 1" in stdout
    m = json.loads((out / "metrics.json").read_text())
    angles = m["runs"][0]["angles"]
    assert set(angles) == {"B1", "B2", "B3"}
    assert all(len(v) == 3 for v in angles.values())
    # SAL starts aligning B with W^T from the first phases
    assert angles["B1"][-1] < angles["B1"][0]
    assert (out / "angles.png").read_bytes()[:8] == PNG


def test_python_dash_m(tiny):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-m", "sal_hw.cli", "run", "--help"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and "usage: sal-hw run" in done.stdout
    done = subprocess.run([sys.executable, "-m", "sal_hw.cli", "info", str(tiny) + ".missing"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "no such file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(shutil.which("sal-hw") is None, reason="sal-hw script not installed")
def test_console_script(tiny):
    done = subprocess.run(["sal-hw", "info", str(tiny)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "fits: yes" in done.stdout


def test_every_example_runs(tmp_path, capsys):
    """The newcomer's path: every example through the CLI (short runs where the file allows)."""
    for path in sorted(EXAMPLES.glob("*.yaml")):
        nf = load(path)
        short = [] if [a.op for a in nf.run.schedule] != ["run"] else ["--steps", "300"]
        out = tmp_path / path.stem
        assert main(["run", str(path), "--out", str(out), "--quiet", "--seeds", "1"] + short) \
            == 0, path.name
        assert (out / "metrics.json").is_file() and (out / "raster.png").is_file()
    assert "wrote" in capsys.readouterr().out


def test_info_on_a_board(capsys):
    assert main(["info", str(EXAMPLES / "salnet-s.yaml"), "--board", "ulx3s-85f"]) == 0
    out = capsys.readouterr().out
    assert "chip: 4 cores of 64 neurons and 256 axons" in out and "fits: yes" in out
    assert main(["info", str(EXAMPLES / "salnet-s.yaml"), "--board", "icebreaker"]) == 0
    out = capsys.readouterr().out
    assert "fits the chip (1 core of 32 neurons, 32 axons): no" in out
