"""pytest runners of the whole-chip cocotb tests (tb_chip.py): SALChip through its byte link.

Each configuration is converted and built once per simulator and Verilog
text (cached under sim_build/, see build.py ``build_design``).  Without
pytest, for replaying a seed:

    python cocotb_tests/test_chip.py --config k2 --test chip_fuzz --seed 7 [--sim icarus]
"""

import argparse
import dataclasses
import functools
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if __package__:
    from .build import available_simulators, build_design
else:   # run as a script
    sys.path.insert(0, str(HERE.parent))
    from cocotb_tests.build import available_simulators, build_design

from sal_hw.golden.params import CoreParams  # noqa: E402
from sal_hw.rtl.chip import SALChip  # noqa: E402

#: name -> (CoreParams, cores, lanes, route_entries, inject_depth)
CONFIGS = {
    "k1": (CoreParams(neurons=16, axons=16, history=16), 1, 1, 64, 16),
    "k2": (CoreParams(neurons=32, axons=32, history=24), 2, 2, 160, 32),
    "k3": (CoreParams(neurons=16, axons=16, history=16, lut_bits=6), 3, 4, 96, 24),
    "k4": (CoreParams(neurons=16, axons=32, history=32), 4, 1, 256, 64),
}
#: fuzz frames per configuration: 4 x 2600 = 10,400 per full run
FUZZ_FRAMES = 2600


@functools.lru_cache(maxsize=None)
def build(config, sim="verilator"):
    """The built simulation of configuration ``config`` (converted once per process)."""
    p, K, lanes, D, Q = CONFIGS[config]
    describe = {"params": dataclasses.asdict(p), "cores": K, "lanes": lanes,
                "route_entries": D, "inject_depth": Q}
    return build_design("sal_chip", lambda: SALChip(p, K, lanes, D, Q), sim, describe)


def chip_env(config):
    p, K, lanes, D, Q = CONFIGS[config]
    return {"SAL_CHIP": json.dumps({**dataclasses.asdict(p), "cores": K, "lanes": lanes,
                                    "route_entries": D, "inject_depth": Q})}


def run_tb(config, testcase, seed, sim="verilator", **env):
    built = build(config, sim)
    env = {**chip_env(config), "SAL_SEED": seed, **env}
    name = "-".join([testcase, config, str(seed)] + [str(v) for v in env.values()
                                                      if isinstance(v, int)])
    return built.run(testcase, name, "tb_chip", extra_env=env, extra_path=HERE)


def _sim_param(sim):
    return pytest.param(sim, marks=[] if sim in available_simulators()
                        else [pytest.mark.skip(reason=f"{sim} is not installed")])


@pytest.mark.parametrize("net", [0, 1, 2])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_networks(config, net):
    """A placed (0) or random (1, 2) network, 1,000 steps, bit-exact through the protocol."""
    run_tb(config, "chip_networks", seed=11, SAL_NET=net, SAL_STEPS=1000)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_fuzz(config):
    run_tb(config, "chip_fuzz", seed=21, SAL_FRAMES=FUZZ_FRAMES)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_all_spike(config):
    run_tb(config, "chip_all_spike", seed=31, SAL_STEPS=300, SAL_FANOUT=4)


@pytest.mark.parametrize("sim", [_sim_param("icarus")])
def test_icarus(sim):
    """The second simulator: a shorter network run and fuzz on the two-core chip."""
    run_tb("k2", "chip_networks", seed=41, sim=sim, SAL_NET=1, SAL_STEPS=200)
    run_tb("k2", "chip_fuzz", seed=42, sim=sim, SAL_FRAMES=300)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="k2")
    ap.add_argument("--test", default="chip_networks",
                    choices=["chip_networks", "chip_fuzz", "chip_all_spike"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--net", type=int, default=0, help="0: placed network; n: random chip n")
    ap.add_argument("--sim", default="verilator")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=FUZZ_FRAMES)
    args = ap.parse_args(argv)
    log = run_tb(args.config, args.test, args.seed, args.sim, SAL_STEPS=args.steps,
                 SAL_FRAMES=args.frames, SAL_NET=args.net)
    print(f"passed; log: {log}")


if __name__ == "__main__":
    main()
