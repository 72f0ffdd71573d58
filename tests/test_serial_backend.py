"""The serial backend through a pseudo-terminal wired to the golden emulator, over a bad link.

A thread plays the board: it reads the pty's master side, damages bytes
(flips, drops, inserted garbage, cut frames) on the way in and on the way
out, and feeds the emulator.  The driver opens the slave side with
pyserial exactly as it would a board's /dev/ttyUSB*, and must still end
with a chip state identical to a FixedChip stepped directly.
"""

import os
import select
import threading
import tty

import pytest

from sal_hw.driver import Chip, SerialTransport
from sal_hw.golden.chip import FixedChip
from sal_hw.golden.emulator import ChipEmulator

from test_driver import K, P, LossyLink, check_same, drive, source_chip


class PtyBoard:
    """The golden emulator behind a pseudo-terminal, with a damaging link."""

    def __init__(self, link):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self.emulator = ChipEmulator(FixedChip(P, K, route_entries=256, inject_depth=32))
        self.link = link
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            reply = self.link(self.emulator.feed(self.link(data, "out")), "in")
            if reply:
                os.write(self.master, reply)

    def close(self):
        self._stop = True
        self.thread.join()
        os.close(self.master)
        os.close(self._slave)


@pytest.mark.parametrize("seed", [0, 1])
def test_serial_backend_over_a_lossy_pty(seed):
    link = LossyLink(seed, p=0.1)
    board = PtyBoard(link)
    try:
        chip = Chip(SerialTransport(board.port, 3_000_000), timeout=0.2, retries=20)
        ref = source_chip()
        drive(chip, ref)
        check_same(chip, ref)
        assert link.damaged > 5 and chip.resends > 0
        assert chip.status().step == ref.step_count
        chip.close()
    finally:
        board.close()


def test_serial_backend_opens_by_name():
    board = PtyBoard(lambda data, direction: data)
    try:
        with Chip.open("serial", port=board.port, baud=115200) as chip:
            assert chip.info.cores == K
    finally:
        board.close()


def test_missing_port_is_a_clear_error():
    from sal_hw.driver import LinkError
    with pytest.raises(LinkError, match="cannot open serial port '/dev/nonexistent-sal'"):
        Chip.open("serial", port="/dev/nonexistent-sal")
