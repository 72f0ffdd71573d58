"""The host driver: one synchronous ``Chip`` API over any byte link to a chip.

    chip = Chip.open("golden", params=CoreParams(), cores=2)    # in-process emulator
    chip = Chip.open("serial", port="/dev/ttyUSB1")              # a board
    chip = Chip.open("rtl", cores=2, params=...)                 # the simulated RTL chip
    chip.load(placement_chip)          # WRITEs, then CHECKSUM-verified
    chip.run(1000); chip.apply()
    words = chip.read(0, Space.WEIGHT)

The protocol itself is golden/protocol.py (sans-I/O, shared with the
emulator); this module adds the I/O: a :class:`Transport` moves bytes, and
:class:`Chip` turns requests into frames, waits for the reply, and retries.

**Retries.** A request is sent again, with the same bytes (same ``seq``),
when no valid reply arrives within ``timeout`` seconds (a lost or corrupted
frame either way), or when the chip answers BAD_CRC or BAD_FRAME (the
request was damaged on the way and did not run).  Sending the same ``seq``
again is safe: the chip runs a request at most once and answers a repeat
from its store (docs/protocol.md section 3).  After ``retries`` attempts
the driver gives up with :class:`LinkError`.  Any other NAK is the chip's
answer to a request that was received intact: :class:`ChipError`, with the
reason, and nothing was changed on the chip.
"""

import time

from .golden.chip import ChipSpace, FixedChip
from .golden.emulator import ChipEmulator
from .golden.protocol import (CHIP, MAX_DATA, Ack, Apply, Checksum, ChipInfo, FrameDecoder,
                              InfoRequest, Inject, Read, Reason, Run, StatusRequest, Write,
                              check_frame, decode_words, encode_words, parse_checksum_reply,
                              parse_run_reply, parse_status_reply, word_bytes, ProtocolError)
from .golden.transfer import expected_checksum, load_requests

__all__ = ["Chip", "ChipError", "LinkError", "LoadError", "Transport", "EmulatorTransport",
           "SerialTransport", "SocketTransport", "BACKENDS", "describe"]

BACKENDS = ("golden", "rtl", "serial")
#: NAK reasons that mean "damaged on the way": send the same frame again.  The driver
#: never sends a frame over MAX_FRAME, so TOO_LONG means bytes were inserted or a
#: delimiter was lost and two frames ran together.
_RESEND = (Reason.BAD_CRC, Reason.BAD_FRAME, Reason.TOO_LONG)
#: most axons in one INJECT (the frame limit)
_MAX_INJECT = 544


class LinkError(IOError):
    """No valid reply after every retry: the link or the chip is not answering."""


class ChipError(RuntimeError):
    """The chip refused a request (a NAK other than a damaged frame); nothing changed."""

    def __init__(self, reason, request):
        self.reason = Reason(reason)
        self.request = request
        super().__init__(f"the chip refused {describe(request)}: {self.reason.name}")


def describe(req):
    """A request in a few words (no data bytes), for messages."""
    fields = {k: v for k, v in vars(req).items() if k not in ("data", "axons")}
    extra = ", ".join(f"{k} {v}" for k, v in fields.items())
    if hasattr(req, "axons"):
        extra += f", {len(req.axons)} axons"
    return f"{req.op.name}" + (f" ({extra})" if extra else "")


class LoadError(RuntimeError):
    """A load whose CHECKSUM verification failed."""


# -- transports -------------------------------------------------------------------------------
class Transport:
    """Moves bytes: ``send(data)``, ``receive(timeout)`` (the bytes that arrived, b"" if none
    within ``timeout`` seconds), ``close()``."""

    def send(self, data):
        raise NotImplementedError

    def receive(self, timeout):
        raise NotImplementedError

    def close(self):
        pass


class EmulatorTransport(Transport):
    """The golden emulator in this process: replies are ready as soon as a frame is sent.

    ``link`` (optional) is a callable that may damage bytes on their way in
    each direction: ``link(data, direction) -> data`` with direction "out"
    (host to chip) or "in"; tests use it to corrupt and drop bytes.
    """

    def __init__(self, emulator, link=None):
        self.emulator = emulator
        self.link = link or (lambda data, direction: data)
        self._pending = b""

    def send(self, data):
        self._pending += self.link(self.emulator.feed(self.link(bytes(data), "out")), "in")

    def receive(self, timeout):
        data, self._pending = self._pending, b""
        return data


class SerialTransport(Transport):
    """A serial port (pyserial): a board's USB UART, or a pseudo-terminal."""

    def __init__(self, port, baud=3_000_000):
        try:
            import serial
        except ImportError:   # pragma: no cover - pyserial is a dependency
            raise LinkError("the serial backend needs pyserial (pip install pyserial)") from None
        try:
            self.port = serial.Serial(port, baud, timeout=0)
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"cannot open serial port {port!r}: {e}") from None

    def send(self, data):
        self.port.write(bytes(data))
        self.port.flush()

    def receive(self, timeout):
        self.port.timeout = timeout
        first = self.port.read(1)
        if not first:
            return b""
        self.port.timeout = 0
        return first + self.port.read(self.port.in_waiting or 0)

    def close(self):
        self.port.close()


class SocketTransport(Transport):
    """A TCP connection (the simulated RTL chip's bridge, cocotb_tests/rtl_bridge.py)."""

    def __init__(self, host, port, connect_timeout=120.0):
        import socket
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=5)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise LinkError(f"cannot connect to {host}:{port}: {e}") from None
                time.sleep(0.2)

    def send(self, data):
        self.sock.sendall(bytes(data))

    def receive(self, timeout):
        import socket
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return b""
        if not data:
            raise LinkError("the simulated chip closed the connection")
        return data

    def close(self):
        self.sock.close()


# -- the driver -------------------------------------------------------------------------------
class Chip:
    """A chip behind a :class:`Transport`, driven by the requests of docs/protocol.md.

    Parameters
    ----------
    transport : Transport
    timeout : float
        Seconds to wait for a reply before sending the request again.  A
        RUN waits ``timeout + steps * step_timeout``.
    retries : int
        Attempts per request before :class:`LinkError`.
    step_timeout : float
        Extra seconds per step of a RUN (a slow simulated chip needs more).
    """

    def __init__(self, transport, *, timeout=1.0, retries=8, step_timeout=0.001):
        self.transport = transport
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.step_timeout = float(step_timeout)
        self._decoder = FrameDecoder()
        self._frames = []
        self._seq = 0
        self._info = None
        self.resends = 0          # requests sent more than once (link statistics)
        self.bytes_out = 0
        self.bytes_in = 0

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, backend="golden", **options):
        """A chip on ``backend``: "golden" (default), "rtl" or "serial".

        golden: ``params`` (CoreParams), ``cores``, ``route_entries``,
        ``inject_depth``, ``lanes``, ``link`` (a damaging link for tests).
        serial: ``port``, ``baud``.  rtl: as golden plus ``simulator``; it
        builds and starts the simulated chip (cocotb_tests/rtl_bridge.py).
        Every backend also takes the driver's ``timeout`` and ``retries``.
        """
        driver = {k: options.pop(k) for k in ("timeout", "retries", "step_timeout")
                  if k in options}
        if backend == "golden":
            from .golden.params import CoreParams
            chip = FixedChip(options.pop("params", CoreParams()), options.pop("cores", 1),
                             route_entries=options.pop("route_entries", 4096),
                             inject_depth=options.pop("inject_depth", 256),
                             lanes=options.pop("lanes", 1))
            transport = EmulatorTransport(ChipEmulator(chip), options.pop("link", None))
        elif backend == "serial":
            if "port" not in options:
                raise ValueError("the serial backend needs a port (for example /dev/ttyUSB1)")
            transport = SerialTransport(options.pop("port"), options.pop("baud", 3_000_000))
        elif backend == "rtl":
            from .rtl_backend import start_rtl_chip
            transport = start_rtl_chip(**{k: options.pop(k) for k in list(options)})
            driver.setdefault("timeout", 30.0)
            driver.setdefault("step_timeout", 0.05)
        else:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if options:
            raise TypeError(f"unexpected options for the {backend} backend: "
                            f"{', '.join(sorted(options))}")
        chip = cls(transport, **driver)
        chip.transport.send(b"\x00")     # flush a partial frame left on the line
        return chip

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- one request ------------------------------------------------------------------------
    def _next_frame(self, deadline):
        while not self._frames:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.transport.receive(left)
            self.bytes_in += len(data)
            self._frames.extend(self._decoder.feed(data))
        return self._frames.pop(0)

    def request(self, req, timeout=None):
        """Send ``req``, return its ACK body; retries as the module docstring says."""
        self._seq = (self._seq + 1) % 256
        wire = req.wire(self._seq)
        wait = self.timeout if timeout is None else timeout
        for attempt in range(self.retries):
            if attempt:
                self.resends += 1
            self.transport.send(wire)
            self.bytes_out += len(wire)
            deadline = time.monotonic() + wait
            while True:
                frame = self._next_frame(deadline)
                if frame is None:
                    break                                  # timeout: send again
                try:
                    pkt = check_frame(frame)
                except ProtocolError:
                    continue                               # a damaged reply: wait for more
                if pkt.seq != self._seq:
                    continue                               # a late reply to an older frame
                if pkt.code == Ack.ACK:
                    return pkt.body
                reason = pkt.body[0] if len(pkt.body) == 1 else None
                if reason in _RESEND:
                    break
                raise ChipError(reason if reason is not None else Reason.BAD_FRAME, req)
        raise LinkError(f"no valid reply to {describe(req)} after {self.retries} attempts "
                        f"({wait:.1f} s each)")

    # -- requests ------------------------------------------------------------------------------
    @property
    def info(self):
        """The chip's INFO (cached): K, CoreParams, route entries, inject depth."""
        if self._info is None:
            self._info = ChipInfo.parse(self.request(InfoRequest()))
        return self._info

    def space_info(self, core, space):
        return self.info.space_info(core, space)

    def read(self, core, space, addr=0, count=None):
        """Words ``addr .. addr + count - 1`` of a space (whole space by default), as ints."""
        info = self.space_info(core, space)
        count = info.depth - addr if count is None else count
        step = MAX_DATA // word_bytes(info.bits)
        out = []
        for a in range(addr, addr + count, step):
            n = min(step, addr + count - a)
            body = self.request(Read(core, int(space), a, n))
            out += decode_words(body, info.bits, info.signed)
        return out

    def write(self, core, space, addr, values):
        """Write ``values`` from ``addr`` (in frames of at most 1024 data bytes)."""
        info = self.space_info(core, space)
        values = [int(v) for v in values]
        step = MAX_DATA // word_bytes(info.bits)
        for i in range(0, len(values), step):
            chunk = values[i:i + step]
            self.request(Write(core, int(space), addr + i, len(chunk),
                               encode_words(chunk, info.bits, info.signed)))

    def checksum(self, core, space, addr=0, count=None):
        info = self.space_info(core, space)
        count = info.depth - addr if count is None else count
        return parse_checksum_reply(self.request(Checksum(core, int(space), addr, count)))

    def run(self, steps):
        """Run ``steps`` chip steps; returns (chip step counter, cycles)."""
        reply = parse_run_reply(self.request(
            Run(int(steps)), timeout=self.timeout + steps * self.step_timeout))
        return reply.step, reply.cycles

    def apply(self, core=CHIP):
        self.request(Apply(core))

    def inject(self, step, core, axons):
        axons = [int(a) for a in axons]
        for i in range(0, max(len(axons), 1), _MAX_INJECT):
            self.request(Inject(int(step), int(core), tuple(axons[i:i + _MAX_INJECT])))

    def status(self):
        return parse_status_reply(self.request(StatusRequest()))

    # -- whole chips --------------------------------------------------------------------------
    def load(self, source, *, verify=True, from_reset=True):
        """Make the chip hold ``source`` (a FixedChip of the same shape): WRITEs, then CHECKSUMs.

        ``from_reset`` skips words at their reset value (right after the
        chip was configured); after other use, pass False.  With ``verify``
        every loaded space's CHECKSUM is compared with the source's;
        :class:`LoadError` names the first space that differs.
        """
        info = self.info
        if (source.K, source.p) != (info.cores, info.params):
            raise ValueError(f"the network was compiled for {source.K} cores of {source.p}; "
                             f"the chip has {info.cores} of {info.params}")
        requests = load_requests(source, from_reset=from_reset)
        for req in requests:
            self.request(req)
        if verify:
            spaces = sorted({(r.core, r.space) for r in requests})
            for core, space in spaces:
                want = expected_checksum(source, core, space)
                got = self.checksum(core, space)
                if got != want:
                    name = ChipSpace(space).name if core == CHIP else f"core {core} space {space}"
                    raise LoadError(f"load verification failed: {name} CRC {got:#010x}, "
                                    f"expected {want:#010x}")
        return len(requests)

    # -- in network units ---------------------------------------------------------------------
    def read_weights(self, compiled, projection):
        """A projection of a loaded :class:`~sal_hw.compiler.Compiled` network, (post, pre),
        in network units."""
        from .golden.spaces import Space
        words = [self.read(c, Space.WEIGHT) for c in range(compiled.cores_used)]
        return compiled.weights_of(words, projection)

    def spike_counts(self, compiled, population=None):
        """SPIKE_COUNT of a loaded network's neurons (network order, or one population)."""
        from .golden.spaces import Space
        words = [self.read(c, Space.SPIKE_COUNT) for c in range(compiled.cores_used)]
        return compiled.spike_counts(words, population)

