"""cocotb bridge: the simulated chip (``sal_chip``, rtl/chip.py) behind a TCP socket.

The cocotb test ``bridge`` is the far end of the host driver's "rtl"
backend (sal_hw/rtl_backend.py, ``Chip.open("rtl", ...)``).  It starts the
clock, resets the DUT, listens on 127.0.0.1, accepts ONE client and then
forwards bytes both ways until the client closes the connection:

    socket -> queue -> DUT rx (valid/ready handshake, one byte per cycle at most)
    DUT tx -> socket   (tx__ready is always 1; each frame is sent when its 00
                        arrives, or what was collected when tx goes quiet)

**Pacing.**  cocotb runs inside the simulator, so while this code blocks the
simulation stands still.  The bridge knows when the chip has nothing to do:
it decodes the bytes it feeds with the golden ``FrameDecoder``, which yields
exactly the frames the chip answers (every frame but an empty one such as a
lone ``00`` flush), and counts the reply frames (their ``00``) coming back.
With no reply owed, no byte queued and no reply half sent, it blocks on the
socket (``select``, 0.5 s at a time, looping): no simulated cycle is burnt
while the host thinks.  Otherwise the simulation runs: the reply collector
waits for ``tx__valid`` with an edge trigger and the feeder for
``rx__ready`` (the chip holds it low while it executes), and every
``POLL_CYCLES`` cycles (a ``Timer``, not per-cycle Python) the bridge reads
whatever the host sent meanwhile (a retry or a flush) into the queue, which
is fed whenever the chip is ready.  A RUN of many steps thus runs at
Verilator's speed with one Python wake-up per ``POLL_CYCLES`` cycles.

**Watchdog.**  When a reply is owed (or a queued byte waits for
``rx__ready``) and nothing moves on the link for ``SAL_BRIDGE_WATCHDOG``
cycles (default 50 million), the test fails with a message saying what it
was waiting for.

Environment:

``SAL_BRIDGE_PORT``
    TCP port to listen on (0 or unset: an ephemeral port).
``SAL_BRIDGE_PORTFILE``
    File that receives the actual port number (decimal), written under a
    temporary name and renamed, so a reader never sees a partial file.
``SAL_BRIDGE_OWNER_PID``
    Optional: the driver's process; the bridge gives up waiting for the
    client if it has died.
``SAL_BRIDGE_ACCEPT_TIMEOUT``
    Seconds (wall clock) to wait for the client (default 600).
``SAL_BRIDGE_WATCHDOG``
    Cycles, see above.

The log gets a few lines at start and end and at most one line per 1000
frames.
"""

import logging
import os
import select
import socket
import time

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, Event, First, ReadOnly, RisingEdge, Timer

from sal_hw.golden.protocol import FrameDecoder

CLK_NS = 10
#: cycles between looks at the socket while the chip works
POLL_CYCLES = 4096
#: cycles without a tx byte after which a partial reply is sent as it is
QUIET_CYCLES = 256
#: bytes fed in a row before the socket is looked at again
FEED_BATCH = 256
#: seconds per select() while idle
IDLE_SELECT = 0.5

log = logging.getLogger("cocotb.bridge")
log.setLevel(logging.INFO)


def _env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BridgeError(AssertionError):
    """The bridge's failure (fails the cocotb test)."""


class Bridge:
    def __init__(self, dut, conn, watchdog_cycles):
        self.dut = dut
        self.clk = dut.clk
        self.conn = conn
        self.watchdog_cycles = watchdog_cycles
        self.rx_queue = bytearray()     # host bytes not yet taken by the DUT
        self.decoder = FrameDecoder()   # the frames fed so far, as the chip sees them
        self.owed = 0                   # replies the chip owes
        self.tx_partial = bytearray()   # reply bytes collected, not yet sent
        self.closed = False             # the client closed (or the socket failed)
        self.reply_event = Event()
        self.last_progress = 0          # sim time (ns) a byte last moved
        self.frames_in = 0
        self.frames_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.started = time.monotonic()

    # -- the socket ----------------------------------------------------------------------
    def _read_socket(self, timeout):
        """Take what the client sent (waiting up to ``timeout`` s); False once it closed."""
        if self.closed:
            return False
        try:
            ready, _, _ = select.select([self.conn], [], [], timeout)
            if not ready:
                return True
            data = self.conn.recv(65536)
        except OSError as e:
            log.info("bridge: socket error %s; ending", e)
            self.closed = True
            return False
        if not data:
            self.closed = True
            return False
        self.rx_queue += data
        return True

    def poll_socket(self):
        return self._read_socket(0)

    def wait_socket(self):
        """Block (no simulated time passes) until the client sends something or closes."""
        while not self.closed and not self.rx_queue:
            self._read_socket(IDLE_SELECT)
        return not self.closed

    def _send(self, data):
        if self.closed:
            return
        try:
            self.conn.sendall(bytes(data))
            self.bytes_out += len(data)
        except OSError as e:
            log.info("bridge: socket error %s while sending; ending", e)
            self.closed = True

    # -- state ---------------------------------------------------------------------------
    @property
    def idle(self):
        return not self.rx_queue and not self.owed and not self.tx_partial

    def _now(self):
        return get_sim_time("ns")

    def progress(self):
        self.last_progress = self._now()

    def check_watchdog(self, waiting_for):
        stuck = (self._now() - self.last_progress) / CLK_NS
        if stuck >= self.watchdog_cycles:
            raise BridgeError(
                f"bridge watchdog: {waiting_for}, and nothing moved on the link for "
                f"{stuck:,.0f} cycles (limit {self.watchdog_cycles:,}); frames in "
                f"{self.frames_in}, replies out {self.frames_out}, replies owed {self.owed}, "
                f"{len(self.rx_queue)} host bytes queued, reply bytes pending "
                f"{bytes(self.tx_partial[:32]).hex()}, rx__ready={self.dut.rx__ready.value}, "
                f"tx__valid={self.dut.tx__valid.value}")

    # -- DUT tx -> socket ------------------------------------------------------------------
    async def collect(self):
        """Forever: take tx bytes (tx__ready is 1), send frames to the client."""
        dut = self.dut
        quiet_ns = QUIET_CYCLES * CLK_NS
        while True:
            await ReadOnly()
            if not dut.tx__valid.value:
                if self.tx_partial:
                    timer = Timer(quiet_ns, "ns")
                    if await First(RisingEdge(dut.tx__valid), timer) is timer:
                        self._send(self.tx_partial)     # the DUT went quiet mid-frame
                        self.tx_partial = bytearray()
                        continue
                else:
                    await RisingEdge(dut.tx__valid)     # no Python while the chip works
                await ReadOnly()
                if not dut.tx__valid.value:
                    await RisingEdge(self.clk)
                    continue
            byte = int(dut.tx__payload.value)
            self.tx_partial.append(byte)
            await RisingEdge(self.clk)                  # taken at this edge
            self.progress()
            if byte == 0:
                self._send(self.tx_partial)
                self.tx_partial = bytearray()
                self.frames_out += 1
                self.owed = max(self.owed - 1, 0)
                if self.frames_out % 1000 == 0:
                    log.info("bridge: %d frames answered (%d bytes in, %d out), %.0f s",
                             self.frames_out, self.bytes_in, self.bytes_out,
                             time.monotonic() - self.started)
                self.reply_event.set()

    # -- socket -> DUT rx --------------------------------------------------------------------
    async def feed(self):
        """Feed up to FEED_BATCH queued bytes; starts and ends in a writable phase."""
        dut = self.dut
        poll_ns = POLL_CYCLES * CLK_NS
        await RisingEdge(self.clk)          # a writable phase, whatever woke us
        for _ in range(FEED_BATCH):
            if not self.rx_queue or self.closed:
                break
            byte = self.rx_queue[0]
            dut.rx__payload.value = byte
            dut.rx__valid.value = 1
            await ReadOnly()
            while not dut.rx__ready.value:  # the chip is executing: wait, on an edge
                await First(RisingEdge(dut.rx__ready), Timer(poll_ns, "ns"))
                if not self.poll_socket():
                    return
                self.check_watchdog("a host byte waits for rx__ready")
                await ReadOnly()
            await RisingEdge(self.clk)      # taken at this edge
            del self.rx_queue[0]
            self.bytes_in += 1
            self.progress()
            frames = self.decoder.feed(bytes((byte,)))
            self.owed += len(frames)
            self.frames_in += len(frames)
        dut.rx__valid.value = 0

    # -- the loop --------------------------------------------------------------------------------
    async def run(self):
        poll_ns = POLL_CYCLES * CLK_NS
        collector = cocotb.start_soon(self.collect())
        try:
            while True:
                if self.idle:
                    if not self.wait_socket():
                        break
                elif not self.poll_socket():
                    break
                if self.rx_queue:
                    await self.feed()
                elif not self.idle:             # a reply is owed or half sent
                    self.reply_event.clear()
                    await First(self.reply_event.wait(), Timer(poll_ns, "ns"))
                    if self.owed:
                        self.check_watchdog(f"{self.owed} reply frame(s) owed")
                if self.closed:
                    break
        finally:
            collector.cancel()


async def _accept(server, owner, timeout):
    deadline = time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([server], [], [], IDLE_SELECT)
        if ready:
            conn, peer = server.accept()
            return conn, peer
        if owner and not _alive(owner):
            raise BridgeError(f"bridge: the driver process {owner} is gone; no client came")
        if time.monotonic() > deadline:
            raise BridgeError(f"bridge: no client connected within {timeout:.0f} s")


def _write_portfile(path, port):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


@cocotb.test()
async def bridge(dut):
    """The DUT behind a TCP socket until the client closes it (see the module docstring)."""
    dut.rx__valid.value = 0
    dut.rx__payload.value = 0
    dut.tx__ready.value = 1
    Clock(dut.clk, CLK_NS, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    port = _env_int("SAL_BRIDGE_PORT", 0)
    portfile = os.environ.get("SAL_BRIDGE_PORTFILE", "")
    owner = _env_int("SAL_BRIDGE_OWNER_PID", 0)
    accept_timeout = _env_int("SAL_BRIDGE_ACCEPT_TIMEOUT", 600)
    watchdog = _env_int("SAL_BRIDGE_WATCHDOG", 50_000_000)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn = None
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        port = server.getsockname()[1]
        if portfile:
            _write_portfile(portfile, port)
        log.info("bridge: listening on 127.0.0.1:%d", port)
        conn, peer = await _accept(server, owner, accept_timeout)
        server.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.info("bridge: client %s:%d connected", *peer)
        b = Bridge(dut, conn, watchdog)
        await b.run()
        log.info("bridge: client closed after %d frames (%d bytes in, %d out), %.1f s, "
                 "%.0f simulated cycles", b.frames_in, b.bytes_in, b.bytes_out,
                 time.monotonic() - b.started, get_sim_time("ns") / CLK_NS)
    finally:
        if conn is not None:
            conn.close()
        server.close()
