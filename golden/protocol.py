"""The host link of the chip, sans I/O: framing, requests and replies as bytes.

Shared by the host driver and the byte-level emulator
(:class:`~.emulator.ChipEmulator`); docs/protocol.md is the normative text.
Nothing here touches a socket or a serial port: functions turn values into
wire bytes and wire bytes into values.

Wire format: each frame is COBS-encoded (Cheshire & Baker 1999) and ends
with one 0x00.  A decoded frame is ``seq u8 | op-or-status u8 | body |
crc u16 LE`` with CRC-16/CCITT-FALSE over everything before the CRC.
All integers are little-endian.
"""

import struct
from dataclasses import dataclass, field, fields
from enum import IntEnum

from .chip import ChipSpace, chip_space_info
from .params import CoreParams
from .spaces import Space, space_info

__all__ = [
    "PROTOCOL_VERSION", "MAX_FRAME", "MAX_DATA", "CHIP", "Op", "Ack", "Reason",
    "ProtocolError", "Nak", "crc16", "cobs_encode", "cobs_decode", "encode_frame",
    "Frame", "FrameDecoder", "Packet", "check_frame", "encode_request", "encode_reply",
    "nak_reply", "word_bytes", "max_words", "encode_words", "decode_words",
    "Read", "Write", "Run", "Apply", "Inject", "StatusRequest", "Checksum", "InfoRequest",
    "parse_request_body", "RunReply", "StatusReply", "ChipInfo", "parse_reply", "ack_body",
    "parse_read_reply", "parse_run_reply", "parse_status_reply", "parse_checksum_reply",
    "parse_info_reply", "REQUEST_TYPES",
]

PROTOCOL_VERSION = 1
#: longest decoded frame (seq, op, body, crc) the chip takes; longer: NAK TOO_LONG
MAX_FRAME = 1100
#: most data bytes one READ reply or WRITE request carries
MAX_DATA = 1024
#: the core number that addresses the chip-level spaces (ChipSpace)
CHIP = 0xFF
#: seq + op + crc
_OVERHEAD = 4


class Op(IntEnum):
    READ = 0x01
    WRITE = 0x02
    RUN = 0x03
    APPLY = 0x04
    INJECT = 0x05
    STATUS = 0x06
    CHECKSUM = 0x07
    INFO = 0x08


class Ack(IntEnum):
    """The status byte of a reply."""

    ACK = 0
    NAK = 1


class Reason(IntEnum):
    """The one body byte of a NAK."""

    BAD_FRAME = 1      # COBS error, or shorter than seq + op + crc
    BAD_CRC = 2
    UNKNOWN_OP = 3
    BAD_LENGTH = 4     # body length wrong for the op
    BAD_CORE = 5
    BAD_SPACE = 6
    OUT_OF_RANGE = 7   # address / count / axon
    BAD_VALUE = 8      # word does not fit, zero seed, config range, read-only, bad route
    TOO_LONG = 9       # decoded frame longer than MAX_FRAME
    QUEUE_FULL = 10
    BAD_STEP = 11      # inject into the past


class ProtocolError(Exception):
    """A frame or message that cannot be taken: ``reason`` (a :class:`Reason`) and ``seq``.

    ``reason`` is None for host-side errors that have no NAK code (a reply
    of the wrong shape).
    """

    def __init__(self, reason, message="", seq=0):
        self.reason = Reason(reason) if reason is not None else None
        self.seq = seq
        name = self.reason.name if self.reason is not None else "PROTOCOL"
        super().__init__(f"{name}: {message}" if message else name)


class Nak(ProtocolError):
    """The chip answered a request with a NAK."""


# -- CRC and COBS ---------------------------------------------------------------------------
def _crc16_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return table


_CRC16 = _crc16_table()


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, MSB first, no final XOR."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ byte]
    return crc


def cobs_encode(data):
    """COBS as in Cheshire & Baker's StuffData: blocks of at most 254 non-zero bytes.

    The encoding always ends with the code byte of a final block, so data
    ending in a full 254-byte run gets a trailing 0x01 (the empty final
    block), and the empty frame encodes as ``01``.
    """
    out = bytearray()
    start = 0
    n = len(data)
    data = bytes(data)
    while True:
        zero = data.find(0, start, start + 254)
        if zero >= 0:
            out.append(zero - start + 1)
            out += data[start:zero]
            start = zero + 1
        elif n - start >= 254:
            out.append(0xFF)
            out += data[start:start + 254]
            start += 254
        else:
            out.append(n - start + 1)
            out += data[start:]
            return bytes(out)


def cobs_decode(data):
    """Strict COBS decode of one encoded frame (no delimiter); raises ProtocolError(BAD_FRAME)."""
    data = bytes(data)
    if 0 in data:
        raise ProtocolError(Reason.BAD_FRAME, "an encoded frame holds no 0x00")
    dec = FrameDecoder(max_frame=len(data) + 1)
    frames = dec.feed(data + b"\x00")
    if not frames:
        return b""
    frame, = frames
    if frame.cobs_error:
        raise ProtocolError(Reason.BAD_FRAME, "COBS block cut short", frame.seq)
    return frame.data


def encode_frame(payload):
    """Wire bytes of one decoded frame: COBS, then the 0x00 delimiter."""
    return cobs_encode(payload) + b"\x00"


@dataclass(frozen=True)
class Frame:
    """One delimited frame off the wire, decoded.

    ``data`` holds the first ``max_frame + 1`` decoded bytes at most;
    ``length`` is the full decoded length; ``cobs_error`` is set when the
    delimiter cut the last COBS block short (``data`` then holds what was
    decoded before it).
    """

    data: bytes
    length: int
    cobs_error: bool = False

    @property
    def seq(self):
        """The first decoded byte, or 0 if there is none (the seq a NAK echoes)."""
        return self.data[0] if self.data else 0


class FrameDecoder:
    """Stream decoder: feed arbitrary byte chunks, get back complete frames.

    Works like the RTL's streaming decoder: a code byte ``c`` announces
    ``c - 1`` data bytes and, unless ``c`` is 0xFF or its block is the
    frame's last, a zero after them (emitted when the next code byte
    arrives).  A delimiter inside a block ends the frame with
    ``cobs_error``.  A frame that decodes to no bytes without an error
    (``00`` alone, or ``01 00``) is dropped.  Memory is bounded: at most
    ``max_frame + 1`` decoded bytes are kept per frame.
    """

    def __init__(self, max_frame=MAX_FRAME):
        self.max_frame = max_frame
        self._new()

    def _new(self):
        self._buf = bytearray()
        self._len = 0
        self._remaining = 0
        self._zero_due = False

    def _emit(self, chunk):
        room = self.max_frame + 1 - len(self._buf)
        if room > 0:
            self._buf += chunk[:room]
        self._len += len(chunk)

    def _end(self, error, out):
        if self._len or error:
            out.append(Frame(bytes(self._buf), self._len, error))
        self._new()

    def feed(self, data):
        """Decode ``data``; returns the list of frames completed by it."""
        out = []
        data = bytes(data)
        i, n = 0, len(data)
        while i < n:
            if self._remaining == 0:
                b = data[i]
                i += 1
                if b == 0:
                    self._end(False, out)
                    continue
                if self._zero_due:
                    self._emit(b"\x00")
                self._remaining = b - 1
                self._zero_due = b != 0xFF
                continue
            stop = min(n, i + self._remaining)
            z = data.find(0, i, stop)
            if z < 0:
                self._emit(data[i:stop])
                self._remaining -= stop - i
                i = stop
            else:
                self._emit(data[i:z])
                i = z + 1
                self._end(True, out)
        return out


# -- packets --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Packet:
    """A frame that passed the frame checks: seq, op (request) or status (reply), body."""

    seq: int
    code: int
    body: bytes


def check_frame(frame, max_frame=MAX_FRAME):
    """Frame-level checks, in the order docs/protocol.md gives; returns a :class:`Packet`.

    Raises ProtocolError BAD_FRAME (COBS error), TOO_LONG, BAD_FRAME (fewer
    than 4 bytes) or BAD_CRC, with ``seq`` = the first decoded byte (0 if none).
    """
    if frame.cobs_error:
        raise ProtocolError(Reason.BAD_FRAME, "COBS block cut short by the delimiter", frame.seq)
    if frame.length > max_frame:
        raise ProtocolError(Reason.TOO_LONG, f"{frame.length} bytes > {max_frame}", frame.seq)
    if frame.length < _OVERHEAD:
        raise ProtocolError(Reason.BAD_FRAME, f"{frame.length} bytes < {_OVERHEAD}", frame.seq)
    data = frame.data
    want = int.from_bytes(data[-2:], "little")
    got = crc16(data[:-2])
    if want != got:
        raise ProtocolError(Reason.BAD_CRC, f"CRC {want:#06x}, computed {got:#06x}", frame.seq)
    return Packet(data[0], data[1], bytes(data[2:-2]))


def _packet_bytes(seq, code, body):
    if not 0 <= seq <= 0xFF:
        raise ValueError(f"seq must be 0..255, not {seq!r}")
    head = bytes([seq, code]) + bytes(body)
    return head + crc16(head).to_bytes(2, "little")


def encode_request(seq, op, body=b""):
    """Wire bytes of a request."""
    return encode_frame(_packet_bytes(seq, int(op), body))


def encode_reply(seq, status, body=b""):
    """Wire bytes of a reply."""
    return encode_frame(_packet_bytes(seq, int(status), body))


def nak_reply(seq, reason):
    return encode_reply(seq, Ack.NAK, bytes([int(reason)]))


# -- words ----------------------------------------------------------------------------------
def word_bytes(bits):
    """Bytes of one word of a ``bits``-bit space: ceil(bits / 8)."""
    return (bits + 7) // 8


def max_words(bits):
    """Most words of a ``bits``-bit space one READ or WRITE carries."""
    return MAX_DATA // word_bytes(bits)


def encode_words(values, bits, signed):
    """Words as little-endian bytes, ``word_bytes(bits)`` each (two's complement if signed).

    A value must fit the space's ``bits`` (ValueError otherwise).
    """
    wb = word_bytes(bits)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    out = bytearray()
    for v in values:
        v = int(v)
        if not lo <= v <= hi:
            raise ValueError(f"{v} does not fit a {bits}-bit {'signed' if signed else 'unsigned'}"
                             f" word")
        out += v.to_bytes(wb, "little", signed=signed)
    return bytes(out)


def decode_words(data, bits, signed):
    """Inverse of :func:`encode_words`, without the range check.

    A signed word is read as a ``8 * word_bytes(bits)``-bit two's-complement
    number, so a word whose value exceeds ``bits`` stays out of range (the
    chip refuses it with BAD_VALUE rather than truncating it).
    """
    wb = word_bytes(bits)
    if len(data) % wb:
        raise ValueError(f"{len(data)} bytes are not whole {wb}-byte words")
    return [int.from_bytes(data[i:i + wb], "little", signed=signed)
            for i in range(0, len(data), wb)]


# -- requests -------------------------------------------------------------------------------
class _Request:
    """Base of the request types: ``op``, ``body()``, ``parse(body)`` and ``wire(seq)``."""

    op = None

    def body(self):
        raise NotImplementedError

    def wire(self, seq):
        """Wire bytes of this request with sequence number ``seq``."""
        return encode_request(seq, self.op, self.body())


def _need(body, size, op):
    if len(body) != size:
        raise ProtocolError(Reason.BAD_LENGTH, f"{op.name} body is {size} bytes, not {len(body)}")


class _FixedRequest(_Request):
    """A request whose body is its dataclass fields packed as ``FORMAT``."""

    FORMAT = ""

    def body(self):
        return struct.pack(self.FORMAT, *(getattr(self, f.name) for f in fields(self)))

    @classmethod
    def parse(cls, body):
        _need(body, struct.calcsize(cls.FORMAT), cls.op)
        return cls(*struct.unpack(cls.FORMAT, body))


@dataclass(frozen=True)
class Read(_FixedRequest):
    core: int
    space: int
    addr: int
    count: int
    op = Op.READ
    FORMAT = "<BBIH"


@dataclass(frozen=True)
class Write(_Request):
    """WRITE: ``data`` holds the ``count`` words, already encoded (see :func:`encode_words`)."""

    core: int
    space: int
    addr: int
    count: int
    data: bytes
    op = Op.WRITE
    FORMAT = "<BBIH"

    @classmethod
    def of(cls, core, space, addr, values, info):
        """A WRITE of ``values`` to a space described by ``info`` (a SpaceInfo)."""
        values = list(values)
        return cls(core, int(space), addr, len(values),
                   encode_words(values, info.bits, info.signed))

    def body(self):
        return struct.pack(self.FORMAT, self.core, self.space, self.addr, self.count) + self.data

    @classmethod
    def parse(cls, body):
        """Header only: whether ``data`` is ``count`` words long depends on the space."""
        if len(body) < 8:
            raise ProtocolError(Reason.BAD_LENGTH, f"WRITE body is at least 8 bytes, "
                                f"not {len(body)}")
        return cls(*struct.unpack(cls.FORMAT, body[:8]), bytes(body[8:]))


@dataclass(frozen=True)
class Run(_Request):
    steps: int
    op = Op.RUN

    def body(self):
        return struct.pack("<I", self.steps)

    @classmethod
    def parse(cls, body):
        _need(body, 4, cls.op)
        return cls(*struct.unpack("<I", body))


@dataclass(frozen=True)
class Apply(_Request):
    core: int     # 0xFF: every core
    op = Op.APPLY

    def body(self):
        return bytes([self.core])

    @classmethod
    def parse(cls, body):
        _need(body, 1, cls.op)
        return cls(body[0])


@dataclass(frozen=True)
class Inject(_Request):
    step: int
    core: int
    axons: tuple = field(default_factory=tuple)
    op = Op.INJECT

    def body(self):
        return struct.pack("<IBH", self.step, self.core, len(self.axons)) + \
            struct.pack(f"<{len(self.axons)}H", *self.axons)

    @classmethod
    def parse(cls, body):
        if len(body) < 7:
            raise ProtocolError(Reason.BAD_LENGTH, f"INJECT body is at least 7 bytes, "
                                f"not {len(body)}")
        step, core, count = struct.unpack("<IBH", body[:7])
        _need(body, 7 + 2 * count, cls.op)
        return cls(step, core, struct.unpack(f"<{count}H", body[7:]))


@dataclass(frozen=True)
class StatusRequest(_FixedRequest):
    """No body (FORMAT "")."""

    op = Op.STATUS


@dataclass(frozen=True)
class Checksum(_FixedRequest):
    core: int
    space: int
    addr: int
    count: int
    op = Op.CHECKSUM
    FORMAT = "<BBII"


@dataclass(frozen=True)
class InfoRequest(_FixedRequest):
    """No body (FORMAT "")."""

    op = Op.INFO


REQUEST_TYPES = {t.op: t for t in (Read, Write, Run, Apply, Inject, StatusRequest, Checksum,
                                   InfoRequest)}


def parse_request_body(packet):
    """The request object of a packet; ProtocolError UNKNOWN_OP or BAD_LENGTH."""
    try:
        kind = REQUEST_TYPES[Op(packet.code)]
    except ValueError:
        raise ProtocolError(Reason.UNKNOWN_OP, f"op {packet.code:#04x}", packet.seq) from None
    try:
        return kind.parse(packet.body)
    except ProtocolError as e:
        e.seq = packet.seq
        raise


# -- replies --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunReply:
    step: int       # chip step counter after the run
    cycles: int     # implementation-defined (emulator: 0; RTL: clock cycles)
    FORMAT = "<IQ"

    def body(self):
        return struct.pack(self.FORMAT, self.step, self.cycles)


@dataclass(frozen=True)
class StatusReply:
    step: int
    events_routed: int
    frames_accepted: int
    frames_rejected: int
    inject_pending: int
    FORMAT = "<IIIIH"

    def body(self):
        return struct.pack(self.FORMAT, self.step, self.events_routed, self.frames_accepted,
                           self.frames_rejected, self.inject_pending)


_PARAM_FIELDS = ("neurons", "axons", "history", "weight_bits", "acc_bits", "u_bits", "u_frac",
                 "bias_bits", "lut_bits", "lut_width", "kernel_bits", "rules", "gain_bits")


@dataclass(frozen=True)
class ChipInfo:
    """INFO reply: everything a host needs to drive the chip.

    Layout (27 bytes, LE): version u8, cores u8, neurons u16, axons u16,
    history u8, weight_bits u8, acc_bits u8, u_bits u8, u_frac u8,
    bias_bits u8, lut_bits u8, lut_width u8, kernel_bits u8, rules u8,
    gain_bits u8, lanes u16, route_entries u32, inject_depth u16,
    max_frame u16.
    """

    cores: int
    params: CoreParams
    lanes: int
    route_entries: int
    inject_depth: int
    max_frame: int = MAX_FRAME
    version: int = PROTOCOL_VERSION
    FORMAT = "<BBHHBBBBBBBBBBBHIHH"

    def body(self):
        return struct.pack(self.FORMAT, self.version, self.cores,
                           *(getattr(self.params, f) for f in _PARAM_FIELDS),
                           self.lanes, self.route_entries, self.inject_depth, self.max_frame)

    @classmethod
    def parse(cls, body):
        if len(body) != struct.calcsize(cls.FORMAT):
            raise ProtocolError(None, f"INFO reply is {struct.calcsize(cls.FORMAT)} bytes, "
                                f"not {len(body)}")
        v = struct.unpack(cls.FORMAT, body)
        params = CoreParams(**dict(zip(_PARAM_FIELDS, v[2:15])))
        return cls(cores=v[1], params=params, lanes=v[15], route_entries=v[16],
                   inject_depth=v[17], max_frame=v[18], version=v[0])

    def space_info(self, core, space):
        """SpaceInfo of ``space`` on ``core`` (CHIP = 0xFF: a ChipSpace)."""
        if core == CHIP:
            return chip_space_info(ChipSpace(space), self.cores, self.params.neurons,
                                   self.route_entries)
        return space_info(self.params, Space(space))


def parse_reply(frame):
    """Frame checks on a reply; returns its :class:`Packet` (``code`` is the status byte)."""
    pkt = check_frame(frame)
    if pkt.code not in (Ack.ACK, Ack.NAK):
        raise ProtocolError(None, f"reply status {pkt.code:#04x}", pkt.seq)
    return pkt


def ack_body(packet, seq=None):
    """The body of an ACK; raises :class:`Nak` (with the reason) for a NAK.

    With ``seq``, a reply for another sequence number raises ProtocolError.
    """
    if seq is not None and packet.seq != seq:
        raise ProtocolError(None, f"reply for seq {packet.seq}, expected {seq}", packet.seq)
    if packet.code == Ack.NAK:
        if len(packet.body) != 1:
            raise ProtocolError(None, f"NAK body is 1 byte, not {len(packet.body)}", packet.seq)
        try:
            reason = Reason(packet.body[0])
        except ValueError:
            raise ProtocolError(None, f"NAK reason {packet.body[0]}", packet.seq) from None
        raise Nak(reason, "the chip refused the request", packet.seq)
    return packet.body


def _fixed(body, fmt, what):
    if len(body) != struct.calcsize(fmt):
        raise ProtocolError(None, f"{what} reply is {struct.calcsize(fmt)} bytes, "
                            f"not {len(body)}")
    return struct.unpack(fmt, body)


def parse_read_reply(body, info, count):
    """The ``count`` words of a READ reply for a space described by ``info`` (a SpaceInfo)."""
    if len(body) != count * word_bytes(info.bits):
        raise ProtocolError(None, f"READ reply is {count * word_bytes(info.bits)} bytes, "
                            f"not {len(body)}")
    return decode_words(body, info.bits, info.signed)


def parse_run_reply(body):
    return RunReply(*_fixed(body, RunReply.FORMAT, "RUN"))


def parse_status_reply(body):
    return StatusReply(*_fixed(body, StatusReply.FORMAT, "STATUS"))


def parse_checksum_reply(body):
    return _fixed(body, "<I", "CHECKSUM")[0]


def parse_info_reply(body):
    return ChipInfo.parse(body)

