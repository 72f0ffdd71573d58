"""Byte-in, byte-out emulator of the chip's host link, on top of :class:`~.chip.FixedChip`.

``ChipEmulator(chip).feed(wire_bytes)`` returns the wire bytes the chip
sends back: one reply per complete frame, in order.  It is the host
driver's default backend and the reference the RTL host interface must
match byte for byte (docs/protocol.md).

Every request is checked completely before anything changes, so a NAKed
request changes nothing but the FRAMES_REJECTED counter.
"""

import argparse
import sys
import zlib

import numpy as np

from .chip import FixedChip, ChipSpace, Status
from .fixed import AccessError
from .params import CoreParams
from .protocol import (CHIP, MAX_DATA, Ack, ChipInfo, FrameDecoder, Op, ProtocolError, Reason,
                       RunReply, StatusReply, check_frame, encode_reply, nak_reply,
                       parse_request_body, word_bytes)
from .spaces import Space, space_info

__all__ = ["ChipEmulator", "protocol_examples", "examples_markdown"]


def _region_bytes(values, info):
    """The READ encoding of ``values`` (ints that fit ``info``), vectorized when possible."""
    wb = word_bytes(info.bits)
    if wb <= 8:
        arr = np.array(values, dtype=np.uint64 if not info.signed else np.int64)
        if info.signed:
            arr = arr.view(np.uint64)
        return arr.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :wb].tobytes()
    return b"".join(int(v).to_bytes(wb, "little", signed=info.signed) for v in values)


class ChipEmulator:
    """The chip's host interface: frames in, replies out.

    Parameters
    ----------
    chip : FixedChip
        The chip the requests act on.  Its FRAMES_* counters are kept here.
    """

    def __init__(self, chip):
        self.chip = chip
        self.decoder = FrameDecoder()
        self._last = None     # (seq, reply wire bytes) of the last ACKed request

    @property
    def info(self):
        c = self.chip
        return ChipInfo(cores=c.K, params=c.p, lanes=c.lanes, route_entries=c.route_entries,
                        inject_depth=c.inject_depth)

    def feed(self, data):
        """Take wire bytes; return the replies (wire bytes) to every frame they complete."""
        return b"".join(self.handle(frame) for frame in self.decoder.feed(data))

    def handle(self, frame):
        """The reply (wire bytes) to one decoded :class:`~.protocol.Frame`."""
        chip = self.chip
        try:
            pkt = check_frame(frame)
        except ProtocolError as e:
            chip.frames_rejected += 1
            return nak_reply(e.seq, e.reason)
        if self._last is not None and pkt.seq == self._last[0]:
            chip.frames_repeated += 1
            return self._last[1]
        try:
            body = self._execute(parse_request_body(pkt))
        except ProtocolError as e:
            chip.frames_rejected += 1
            return nak_reply(pkt.seq, e.reason)
        reply = encode_reply(pkt.seq, Ack.ACK, body)
        chip.frames_accepted += 1
        self._last = (pkt.seq, reply)
        return reply

    # -- checks -----------------------------------------------------------------------
    def _space_info(self, core, space):
        """SpaceInfo of (core, space); ProtocolError BAD_CORE or BAD_SPACE."""
        chip = self.chip
        if core == CHIP:
            if space >= len(ChipSpace):
                raise ProtocolError(Reason.BAD_SPACE, f"no chip space {space}")
            return chip.space_info(ChipSpace(space))
        if core >= chip.K:
            raise ProtocolError(Reason.BAD_CORE, f"no core {core}")
        if space >= len(Space):
            raise ProtocolError(Reason.BAD_SPACE, f"no space {space}")
        return space_info(chip.p, Space(space))

    @staticmethod
    def _range(info, addr, count):
        if addr + count > info.depth:
            raise ProtocolError(Reason.OUT_OF_RANGE, f"{info.space.name}: {addr}+{count} > "
                                f"{info.depth}")

    @staticmethod
    def _count(info, count):
        if not 1 <= count <= MAX_DATA // word_bytes(info.bits):
            raise ProtocolError(Reason.OUT_OF_RANGE, f"count {count} outside "
                                f"1..{MAX_DATA // word_bytes(info.bits)}")

    def _read(self, core, info, addr, count):
        target = self.chip if core == CHIP else self.chip.cores[core]
        return _region_bytes(target.read(info.space, addr, count), info)

    # -- execution ----------------------------------------------------------------------
    def _execute(self, req):
        chip = self.chip
        op = req.op
        if op == Op.READ:
            info = self._space_info(req.core, req.space)
            self._count(info, req.count)
            self._range(info, req.addr, req.count)
            return self._read(req.core, info, req.addr, req.count)
        if op == Op.WRITE:
            info = self._space_info(req.core, req.space)
            wb = word_bytes(info.bits)
            if len(req.data) != req.count * wb:
                raise ProtocolError(Reason.BAD_LENGTH, f"{req.count} words of {wb} bytes, "
                                    f"not {len(req.data)} bytes")
            self._count(info, req.count)
            self._range(info, req.addr, req.count)
            if not info.writable:
                raise ProtocolError(Reason.BAD_VALUE, f"{info.space.name} is read only")
            values = [int.from_bytes(req.data[i:i + wb], "little", signed=info.signed)
                      for i in range(0, len(req.data), wb)]
            target = chip if req.core == CHIP else chip.cores[req.core]
            try:
                target.write(info.space, req.addr, values)
            except AccessError as e:
                raise ProtocolError(Reason.BAD_VALUE, str(e)) from None
            return b""
        if op == Op.RUN:
            for _ in range(req.steps):
                chip.step()
            return RunReply(chip.step_count, 0).body()
        if op == Op.APPLY:
            if req.core != CHIP and req.core >= chip.K:
                raise ProtocolError(Reason.BAD_CORE, f"no core {req.core}")
            chip.apply(None if req.core == CHIP else req.core)
            return b""
        if op == Op.INJECT:
            if req.core >= chip.K:
                raise ProtocolError(Reason.BAD_CORE, f"no core {req.core}")
            if any(a >= chip.p.axons for a in req.axons):
                raise ProtocolError(Reason.OUT_OF_RANGE, f"axon >= {chip.p.axons}")
            if req.step < chip.step_count:
                raise ProtocolError(Reason.BAD_STEP, f"step {req.step} < {chip.step_count}")
            if chip.inject_pending + len(req.axons) > chip.inject_depth:
                raise ProtocolError(Reason.QUEUE_FULL, f"{chip.inject_pending} pending")
            chip.inject(req.step, req.core, req.axons)
            return b""
        if op == Op.STATUS:
            s = chip.status_words()
            return StatusReply(s[Status.STEP_COUNT], s[Status.EVENTS_ROUTED],
                               s[Status.FRAMES_ACCEPTED], s[Status.FRAMES_REJECTED],
                               s[Status.INJECT_PENDING]).body()
        if op == Op.CHECKSUM:
            info = self._space_info(req.core, req.space)
            self._range(info, req.addr, req.count)
            crc = zlib.crc32(self._read(req.core, info, req.addr, req.count)) & 0xFFFFFFFF
            return crc.to_bytes(4, "little")
        if op == Op.INFO:
            return self.info.body()
        raise AssertionError(f"unhandled op {op!r}")   # parse_request_body covers every op


# -- worked examples for docs/protocol.md --------------------------------------------------------
EXAMPLE_PARAMS = CoreParams(neurons=4, axons=4, history=8, lut_bits=2)


def protocol_examples():
    """A short session with a 2-core chip of 4-neuron cores: [(title, request, reply)] as bytes.

    docs/protocol.md shows exactly these bytes (tests/test_emulator.py checks it).
    """
    from . import protocol as pr
    from .chip import pack_route_dest, pack_route_index

    chip = FixedChip(EXAMPLE_PARAMS, 2, route_entries=16, inject_depth=8)
    emu = ChipEmulator(chip)
    info = emu.info
    out = []
    seq = [0]

    def do(title, request=None, wire=None, same_seq=False):
        if request is not None:
            seq[0] += 0 if same_seq else 1
            wire = request.wire(seq[0])
        out.append((title, wire, emu.feed(wire)))

    def write(core, space, addr, values):
        return pr.Write.of(core, space, addr, values, info.space_info(core, space))

    do("INFO", pr.InfoRequest())
    do("WRITE core 0 BIAS[1..2] = -3, 300 (BIAS is 16-bit signed: 2 bytes a word)",
       write(0, Space.BIAS, 1, [-3, 300]))
    do("READ core 0 BIAS[0..3]", pr.Read(0, Space.BIAS, 0, 4))
    do("WRITE core 0 LUT[0..3] = 0xFFFF (this example core has lut_bits = 2): every neuron "
       "of core 0 fires for certain", write(0, Space.LUT, 0, [0xFFFF] * 4))
    do("WRITE chip ROUTE_DEST[0..1] = (core 1, axon 2), (core 0, axon 3)",
       write(CHIP, ChipSpace.ROUTE_DEST, 0, [pack_route_dest(1, 2), pack_route_dest(0, 3)]))
    do("WRITE chip ROUTE_INDEX[1] = (start 0, count 2): neuron 1 of core 0 sends to both",
       write(CHIP, ChipSpace.ROUTE_INDEX, 1, [pack_route_index(0, 2)]))
    do("INJECT axons 0 and 3 of core 1 at step 2", pr.Inject(2, 1, (0, 3)))
    do("RUN 3 steps: the reply holds the step counter (3) and the cycles (emulator: 0)",
       pr.Run(3))
    do("The same RUN again with the same seq: a retransmission, answered from the store, "
       "not run again", pr.Run(3), same_seq=True)
    do("READ core 1 AXON_HIST[0..3]: axons 0 and 3 were injected at step 2 (bit 0: one step "
       "ago), axon 2 received neuron 1 of core 0 at steps 0, 1 and 2",
       pr.Read(1, Space.AXON_HIST, 0, 4))
    do("STATUS: step 3, 6 events routed, 9 frames accepted (before this one), 0 rejected, "
       "0 injected events pending", pr.StatusRequest())
    do("CHECKSUM core 0 BIAS[0..3]: zlib.crc32 of the body the READ above returned",
       pr.Checksum(0, Space.BIAS, 0, 4))
    do("APPLY every core (core 0xFF)", pr.Apply(CHIP))
    do("NAK BAD_VALUE: WRITE core 0 SEED[0] = 0", write(0, Space.SEED, 0, [0]))
    do("NAK BAD_CORE: READ core 2 (the chip has cores 0 and 1)", pr.Read(2, Space.BIAS, 0, 1))
    seq[0] += 1
    bad = bytearray(pr.Run(1).wire(seq[0]))
    bad[3] ^= 0x40
    do("NAK BAD_CRC: a RUN with one corrupted bit", wire=bytes(bad))
    do("NAK BAD_STEP: INJECT into the past", pr.Inject(1, 0, (0,)))
    do("A lone 0x00 (an empty frame): no reply", wire=b"\x00")
    return out


def _hex(data):
    return " ".join(f"{b:02x}" for b in data)


def _decoded(wire):
    """``seq op | body | crc`` of every frame in ``wire``, or why it is not one."""
    out = []
    for frame in FrameDecoder().feed(wire):
        d = frame.data
        if frame.cobs_error or len(d) < 4:
            out.append("(not a frame)")
        else:
            out.append(f"{_hex(d[:2])} | {_hex(d[2:-2]) or '-'} | {_hex(d[-2:])}")
    return out


def examples_markdown():
    """The examples section of docs/protocol.md, as generated from :func:`protocol_examples`.

    Per example: the request and the reply on the wire (``->`` host to
    chip, ``<-`` chip to host), each followed by its decoded frame as
    ``seq op-or-status | body | crc``.
    """
    lines = []
    for title, request, reply in protocol_examples():
        lines += [f"**{title}**", "", "```"]
        lines.append(f"-> {_hex(request)}")
        lines += [f"   decoded: {d}" for d in _decoded(request)]
        lines.append(f"<- {_hex(reply) or '(no reply)'}")
        lines += [f"   decoded: {d}" for d in _decoded(reply)]
        lines += ["```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Print the worked protocol examples (markdown).")
    ap.parse_args(argv)
    sys.stdout.write(examples_markdown())


if __name__ == "__main__":
    main()
