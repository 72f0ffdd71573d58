# amaranth: UnusedElaboratable=no
"""The spike router's formal proofs (formal/): every SymbiYosys task, run by formal/prove.py.

Proof tasks must PASS; the broken tasks (a router with a deliberate fault,
or a wait bound one cycle too tight) must FAIL, with a named property, so
the proofs are shown to be able to fail.  Each task runs in its own
folder, so ``pytest -n 2`` runs two at a time.  The first call of the
YoWASP tools on a fresh machine compiles them (about a minute).
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

PROVE = Path(__file__).resolve().parent.parent / "formal" / "prove.py"
_spec = importlib.util.spec_from_file_location("router_prove", PROVE)
_prove = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_prove)
TASKS = _prove.TASKS


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TASKS))
def test_formal_task(task, tmp_path):
    proc = subprocess.run([sys.executable, str(PROVE), task, "--workdir", str(tmp_path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900)
    status_file = tmp_path / task / f"router_{task}" / "status"
    log = tmp_path / task / "sby.log"
    detail = proc.stdout + (log.read_text()[-3000:] if log.exists() else "")
    assert status_file.exists(), f"sby gave no status:\n{detail}"
    status = status_file.read_text().split()[0]
    expect = TASKS[task][1]
    assert status == expect, f"{task}: {status}, must {expect}\n{detail}"
    assert proc.returncode == 0, detail
    if expect == "FAIL":
        assert "failed: " in proc.stdout, f"{task} failed without a named assertion\n{detail}"
        if TASKS[task][0]["checks"] == "latency":
            assert "wait_bound" in proc.stdout, detail


def test_harness_options_are_checked():
    sys.path.insert(0, str(PROVE.parent))
    try:
        from router_harness import RouterHarness
    finally:
        sys.path.remove(str(PROVE.parent))
    with pytest.raises(ValueError, match="checks='latency' needs a bound"):
        RouterHarness(checks="latency")
    with pytest.raises(ValueError, match="ready must be 'any', 'always' or 'fair', not 'x'"):
        RouterHarness(ready="x")
