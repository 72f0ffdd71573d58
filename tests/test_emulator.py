"""The byte-level chip emulator against an independent reference model of docs/protocol.md.

The fuzz test sends thousands of valid, out-of-range and corrupted frames
(bit flips, dropped and inserted bytes, truncation, oversized and empty
frames, retransmissions) in random chunks.  The reference model below
decodes the same bytes with its own COBS and CRC (binascii.crc_hqx), decides
each reply from the protocol text, and drives a second chip with only the
requests it ACKs; replies must match byte for byte and both chips must end
in the same state.
"""

import binascii
import random
import re
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest

from sal_hw.golden import protocol as pr
from sal_hw.golden.chip import AccessError, ChipSpace, FixedChip, Status, place
from sal_hw.golden.emulator import ChipEmulator, examples_markdown, protocol_examples
from sal_hw.golden.fuzz import ProtocolFuzzer
from sal_hw.golden.network import recurrent
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import CHIP, Op, Reason
from sal_hw.golden.spaces import Config, Space, space_info

from reference import cobs_encode as ref_cobs_encode

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"

P = CoreParams(neurons=8, axons=16, history=8, rules=4, lut_bits=4)
K, D, DEPTH = 3, 48, 12


def fresh_chip():
    """A 3-core chip running a small recurrent network, so runs spike, route and learn."""
    net = recurrent(n=15, tau=3, eta=0.5, seed=9)
    net.kernel = net.kernel[:6]
    return place(net, P, K, apply_period=7).chip(route_entries=D, inject_depth=DEPTH)


# -- the reference model -----------------------------------------------------------------------
class Refuse(Exception):
    def __init__(self, reason):
        self.reason = reason


def ref_crc(data):
    return binascii.crc_hqx(data, 0xFFFF)      # CRC-CCITT, MSB first: CCITT-FALSE at 0xFFFF


def ref_cobs_decode(enc):
    """(decoded bytes, error): a block cut short keeps what came before it."""
    out, i = bytearray(), 0
    while i < len(enc):
        code = enc[i]
        block = enc[i + 1:i + code]
        out += block
        if len(block) < code - 1:
            return bytes(out), True
        i += code
        if code != 0xFF and i < len(enc):
            out.append(0)
    return bytes(out), False


def ref_reply(seq, status, body):
    data = bytes([seq, status]) + body
    return ref_cobs_encode(data + ref_crc(data).to_bytes(2, "little")) + b"\x00"


class RefLink:
    """docs/protocol.md as a model: wire bytes in, expected reply bytes out."""

    def __init__(self, chip):
        self.chip = chip
        self.buf = b""
        self.last = None
        self.naks = Counter()
        self.acks = Counter()

    def feed(self, data):
        self.buf += data
        *frames, self.buf = self.buf.split(b"\x00")
        return b"".join(self.frame(f) for f in frames)

    def frame(self, enc):
        dec, err = ref_cobs_decode(enc)
        if not dec and not err:
            return b""
        seq = dec[0] if dec else 0
        if err:
            return self.nak(seq, Reason.BAD_FRAME)
        if len(dec) > 1100:
            return self.nak(seq, Reason.TOO_LONG)
        if len(dec) < 4:
            return self.nak(seq, Reason.BAD_FRAME)
        if ref_crc(dec[:-2]) != int.from_bytes(dec[-2:], "little"):
            return self.nak(seq, Reason.BAD_CRC)
        if self.last is not None and self.last[0] == seq:
            self.chip.frames_repeated += 1
            self.acks["repeat"] += 1
            return self.last[1]
        try:
            body = self.execute(dec[1], dec[2:-2])
        except Refuse as r:
            return self.nak(seq, r.reason)
        reply = ref_reply(seq, 0, body)
        self.last = (seq, reply)
        self.chip.frames_accepted += 1
        self.acks[Op(dec[1])] += 1
        return reply

    def nak(self, seq, reason):
        self.chip.frames_rejected += 1
        self.naks[reason] += 1
        return ref_reply(seq, 1, bytes([reason]))

    def space(self, core, sp):
        """(depth, bits, signed, writable, target) of a space, or Refuse."""
        chip = self.chip
        if core == 0xFF:
            table = {0: (K * P.neurons, 24), 1: (D, 24), 2: (7, 32)}
            if sp not in table:
                raise Refuse(Reason.BAD_SPACE)
            return table[sp] + (False, sp != 2, chip)
        if core >= K:
            raise Refuse(Reason.BAD_CORE)
        if sp > 14:
            raise Refuse(Reason.BAD_SPACE)
        info = space_info(P, sp)
        return info.depth, info.bits, info.signed, info.writable, chip.cores[core]

    def words(self, target, sp, addr, count, bits, signed):
        wb = (bits + 7) // 8
        return b"".join(v.to_bytes(wb, "little", signed=signed)
                        for v in target.read(sp, addr, count))

    def execute(self, op, body):
        chip = self.chip

        def need(n):
            if len(body) != n:
                raise Refuse(Reason.BAD_LENGTH)

        if op == 0x01:
            need(8)
            core, sp, addr, count = struct.unpack("<BBIH", body)
            depth, bits, signed, _, target = self.space(core, sp)
            if not 1 <= count <= 1024 // ((bits + 7) // 8) or addr + count > depth:
                raise Refuse(Reason.OUT_OF_RANGE)
            return self.words(target, sp, addr, count, bits, signed)
        if op == 0x02:
            if len(body) < 8:
                raise Refuse(Reason.BAD_LENGTH)
            core, sp, addr, count = struct.unpack("<BBIH", body[:8])
            depth, bits, signed, writable, target = self.space(core, sp)
            wb = (bits + 7) // 8
            if len(body) != 8 + count * wb:
                raise Refuse(Reason.BAD_LENGTH)
            if not 1 <= count <= 1024 // wb or addr + count > depth:
                raise Refuse(Reason.OUT_OF_RANGE)
            if not writable:
                raise Refuse(Reason.BAD_VALUE)
            values = [int.from_bytes(body[8 + i * wb:8 + (i + 1) * wb], "little", signed=signed)
                      for i in range(count)]
            try:
                target.write(sp, addr, values)
            except AccessError:
                raise Refuse(Reason.BAD_VALUE) from None
            return b""
        if op == 0x03:
            need(4)
            steps, = struct.unpack("<I", body)
            assert steps <= 64, "the fuzz never asks for long runs"
            for _ in range(steps):
                chip.step()
            return struct.pack("<IQ", chip.step_count, 0)
        if op == 0x04:
            need(1)
            if body[0] != 0xFF and body[0] >= K:
                raise Refuse(Reason.BAD_CORE)
            for c in (range(K) if body[0] == 0xFF else [body[0]]):
                chip.cores[c].apply()
            return b""
        if op == 0x05:
            if len(body) < 7:
                raise Refuse(Reason.BAD_LENGTH)
            step, core, count = struct.unpack("<IBH", body[:7])
            need(7 + 2 * count)
            axons = struct.unpack(f"<{count}H", body[7:])
            if core >= K:
                raise Refuse(Reason.BAD_CORE)
            if any(a >= P.axons for a in axons):
                raise Refuse(Reason.OUT_OF_RANGE)
            if step < chip.step_count:
                raise Refuse(Reason.BAD_STEP)
            if chip.inject_pending + count > DEPTH:
                raise Refuse(Reason.QUEUE_FULL)
            chip.inject(step, core, axons)
            return b""
        if op == 0x06:
            need(0)
            return struct.pack("<IIIIH", chip.step_count, chip.events_routed,
                               chip.frames_accepted, chip.frames_rejected, chip.inject_pending)
        if op == 0x07:
            need(10)
            core, sp, addr, count = struct.unpack("<BBII", body)
            depth, bits, signed, _, target = self.space(core, sp)
            if addr + count > depth:
                raise Refuse(Reason.OUT_OF_RANGE)
            return struct.pack("<I", zlib.crc32(self.words(target, sp, addr, count, bits,
                                                           signed)))
        if op == 0x08:
            need(0)
            return bytes([1, K]) + struct.pack("<HH", P.neurons, P.axons) + bytes(
                [P.history, P.weight_bits, P.acc_bits, P.u_bits, P.u_frac, P.bias_bits,
                 P.lut_bits, P.lut_width, P.kernel_bits, P.rules, P.gain_bits]) + \
                struct.pack("<HIHH", 1, D, DEPTH, 1100)
        raise Refuse(Reason.UNKNOWN_OP)


# -- the random host ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_fuzz_against_reference(seed):
    frames = 2600
    rng = random.Random(seed)
    emu = ChipEmulator(fresh_chip())
    ref = RefLink(fresh_chip())
    host = ProtocolFuzzer(rng, ref.chip)
    pending = b""
    sent = 0
    while sent < frames:
        pending += host.next_frame()
        sent += 1
        if rng.random() < 0.3 and sent < frames:   # sometimes batch several frames
            continue
        # cut the batch into random chunks; each chunk goes to both sides
        while pending:
            n = rng.randint(1, max(1, len(pending)))
            chunk, pending = pending[:n], pending[n:]
            got = emu.feed(chunk)
            want = ref.feed(chunk)
            assert got == want, f"seed {seed}, frame {sent}: {got.hex()} != {want.hex()}"
    assert emu.feed(b"\x00") == ref.feed(b"\x00")
    assert emu.chip.snapshot() == ref.chip.snapshot()
    for name in ("frames_accepted", "frames_rejected", "frames_repeated"):
        assert getattr(emu.chip, name) == getattr(ref.chip, name), name
    # the run exercised every reply
    assert set(ref.naks) == set(Reason), set(Reason) - set(ref.naks)
    assert set(ref.acks) == set(Op) | {"repeat"}
    assert sum(ref.acks.values()) > frames // 3
    assert ref.chip.step_count > 100 and ref.chip.events_routed > 0
    assert emu.chip.frames_accepted + emu.chip.frames_rejected + emu.chip.frames_repeated \
        >= frames * 0.9


# -- directed tests -------------------------------------------------------------------------------
class Link:
    """A tiny synchronous host on top of the emulator (what a driver would do)."""

    def __init__(self, chip):
        self.emu = ChipEmulator(chip)
        self.seq = 0
        self.info = pr.parse_info_reply(self.call(pr.InfoRequest()))

    def send(self, req, seq=None):
        if seq is None:
            self.seq = (self.seq + 1) % 256
            seq = self.seq
        replies = pr.FrameDecoder().feed(self.emu.feed(req.wire(seq)))
        assert len(replies) == 1
        return pr.parse_reply(replies[0])

    def call(self, req):
        pkt = self.send(req)
        return pr.ack_body(pkt, seq=self.seq)

    def nak(self, req):
        with pytest.raises(pr.Nak) as e:
            self.call(req)
        return e.value.reason

    def read(self, core, space, addr=0, count=None):
        info = self.info.space_info(core, space)
        count = info.depth - addr if count is None else count
        out = []
        while count:
            n = min(count, pr.max_words(info.bits))
            out += pr.parse_read_reply(self.call(pr.Read(core, space, addr, n)), info, n)
            addr, count = addr + n, count - n
        return out

    def write(self, core, space, addr, values):
        info = self.info.space_info(core, space)
        values = list(values)
        step = pr.max_words(info.bits)
        for i in range(0, len(values), step):
            self.call(pr.Write.of(core, space, addr + i, values[i:i + step], info))


def test_load_and_run_a_placed_network_through_the_protocol():
    """A host loads every core and the routing table over the link; runs match the golden chip."""
    net = recurrent(n=20, tau=4, eta=0.5, seed=2)
    p = CoreParams(neurons=32, axons=24, history=16)
    pl = place(net, p, 3, apply_period=25)
    golden = pl.chip(route_entries=64, inject_depth=32)
    link = Link(FixedChip(p, 3, route_entries=64, inject_depth=32, lanes=2))
    assert (link.info.cores, link.info.params, link.info.lanes) == (3, p, 2)
    for c in range(3):
        for space in Space:
            if space_info(p, space).writable:
                link.write(c, space, 0, golden.cores[c].read(space))
    link.write(CHIP, ChipSpace.ROUTE_DEST, 0, golden.read(ChipSpace.ROUTE_DEST, 0, 64))
    link.write(CHIP, ChipSpace.ROUTE_INDEX, 0, golden.read(ChipSpace.ROUTE_INDEX))
    link.call(pr.Inject(10, 1, (3, 4)))
    golden.inject(10, 1, [3, 4])
    assert pr.parse_run_reply(link.call(pr.Run(120))) == pr.RunReply(120, 0)
    golden.run(120)
    assert link.emu.chip.snapshot() == golden.snapshot()
    assert golden.events_routed > 100 and golden.cores[0].read(Space.CONFIG)[Config.APPLY_COUNT]
    # reads through the link see the same words, across READ chunks of 1024 bytes
    assert link.read(1, Space.WEIGHT) == golden.cores[1].read(Space.WEIGHT)
    assert link.read(2, Space.POTENTIAL) == golden.cores[2].read(Space.POTENTIAL)
    # CHECKSUM covers any length: here 768 words of ACC (2 bytes each), beyond one READ
    info = link.info.space_info(0, Space.ACC)
    data = pr.encode_words(golden.cores[0].read(Space.ACC), info.bits, info.signed)
    assert len(data) == 2 * info.depth > 1024
    crc = pr.parse_checksum_reply(link.call(pr.Checksum(0, Space.ACC, 0, info.depth)))
    assert crc == zlib.crc32(data)
    # one READ or WRITE carries at most 1024 data bytes: 512 ACC words
    assert len(link.call(pr.Read(0, Space.ACC, 0, 512))) == 1024
    assert link.nak(pr.Read(0, Space.ACC, 0, 513)) == Reason.OUT_OF_RANGE
    acc = pr.encode_words(golden.cores[0].read(Space.ACC, 0, 513), info.bits, info.signed)
    assert link.nak(pr.Write(0, Space.ACC, 0, 513, acc)) == Reason.OUT_OF_RANGE
    link.call(pr.Write(0, Space.ACC, 0, 512, acc[:1024]))
    st = pr.parse_status_reply(link.call(pr.StatusRequest()))
    assert (st.step, st.events_routed, st.inject_pending) == (120, golden.events_routed, 0)
    assert st.frames_rejected == 2 and st.frames_accepted == link.emu.chip.frames_accepted - 1


def test_retransmission_rule():
    link = Link(FixedChip(P, 2, route_entries=D, inject_depth=DEPTH))
    chip = link.emu.chip
    first = link.emu.feed(pr.Run(2).wire(5))
    assert pr.parse_run_reply(pr.ack_body(pr.parse_reply(
        pr.FrameDecoder().feed(first)[0]))).step == 2
    # the reply got lost: the host sends the same request again; it is not run again
    assert link.emu.feed(pr.Run(2).wire(5)) == first
    assert chip.step_count == 2
    # any request with that seq gets the stored reply, even a different one
    assert link.emu.feed(pr.StatusRequest().wire(5)) == first
    # a NAKed request does not replace the stored reply
    nak = link.emu.feed(pr.Read(7, 0, 0, 1).wire(6))
    assert pr.FrameDecoder().feed(nak)[0].data[:3] == bytes([6, 1, Reason.BAD_CORE])
    assert link.emu.feed(pr.Run(2).wire(5)) == first
    # ... and a NAKed seq is executed when it comes again
    assert link.emu.feed(pr.Read(7, 0, 0, 1).wire(6)) == nak
    # corrupted frames do not reach the store either
    bad = bytearray(pr.Run(2).wire(5))
    bad[-3] ^= 1
    assert pr.FrameDecoder().feed(link.emu.feed(bytes(bad)))[0].data[1] == 1
    assert link.emu.feed(pr.Run(2).wire(5)) == first
    # a new seq runs
    assert link.emu.feed(pr.Run(1).wire(7)) != first and chip.step_count == 3
    assert link.emu.feed(pr.Run(1).wire(5)) != first and chip.step_count == 4
    status = chip.read(ChipSpace.STATUS)
    assert status[Status.FRAMES_ACCEPTED] == 1 + 3        # INFO, RUN 5, RUN 7, RUN 5
    assert status[Status.FRAMES_REJECTED] == 3
    assert status[Status.FRAMES_REPEATED] == 4


def test_nak_reasons_and_precedence():
    link = Link(FixedChip(P, 2, route_entries=D, inject_depth=4))
    chip = link.emu.chip
    before = chip.snapshot()
    seed_info = space_info(P, Space.SEED)
    cases = [
        (pr.Read(2, Space.BIAS, 0, 1), Reason.BAD_CORE),
        (pr.Read(0xFE, 99, 0, 0), Reason.BAD_CORE),              # core before space
        (pr.Read(0, 15, 0, 1), Reason.BAD_SPACE),
        (pr.Read(CHIP, 3, 0, 1), Reason.BAD_SPACE),
        (pr.Read(0, Space.BIAS, 0, 0), Reason.OUT_OF_RANGE),
        (pr.Read(0, Space.BIAS, 7, 2), Reason.OUT_OF_RANGE),
        (pr.Read(0, Space.WEIGHT, 0, 1025), Reason.OUT_OF_RANGE),   # > 1024 bytes
        (pr.Read(0, Space.WEIGHT, 2 ** 32 - 1, 1), Reason.OUT_OF_RANGE),
        (pr.Write(0, 15, 0, 1, b"\x00\x00"), Reason.BAD_SPACE),    # space before length
        (pr.Write(0, Space.SEED, 0, 1, b"\x01\x00\x00"), Reason.BAD_LENGTH),
        (pr.Write(0, Space.SEED, 0, 0, b""), Reason.OUT_OF_RANGE),
        (pr.Write(0, Space.SEED, 7, 2, bytes(8)), Reason.OUT_OF_RANGE),
        (pr.Write(0, Space.POTENTIAL, 0, 1, bytes(3)), Reason.BAD_VALUE),     # read only
        (pr.Write(CHIP, ChipSpace.STATUS, 0, 1, bytes(4)), Reason.BAD_VALUE),
        (pr.Write.of(0, Space.SEED, 0, [3, 0], seed_info), Reason.BAD_VALUE),
        (pr.Write(0, Space.POTENTIAL, 0, 1, b"\xff\xff\x7f"), Reason.BAD_VALUE),
        (pr.Write(0, Space.BIAS, 0, 1, b"\x00\x80"), None),                  # -32768 fits
        (pr.Write(0, Space.REFRACTORY, 0, 1, b"\xff"), None),
        (pr.Write(0, Space.RULE_INDEX, 0, 1, b"\x04"), Reason.BAD_VALUE),    # rules = 4
        (pr.Write(0, Space.CONFIG, Config.TAU_SYN, 1, (P.history + 1).to_bytes(4, "little")),
         Reason.BAD_VALUE),
        (pr.Write(CHIP, ChipSpace.ROUTE_DEST, 0, 1, bytes([0, 0, 2])), Reason.BAD_VALUE),
        (pr.Write(CHIP, ChipSpace.ROUTE_DEST, 0, 1, bytes([P.axons, 0, 1])), Reason.BAD_VALUE),
        (pr.Write(CHIP, ChipSpace.ROUTE_INDEX, 0, 1, bytes([D, 0, 1])), Reason.BAD_VALUE),
        (pr.Write(CHIP, ChipSpace.ROUTE_INDEX, 0, 1, bytes([D - 1, 0, 1])), None),
        (pr.Apply(2), Reason.BAD_CORE),
        (pr.Apply(CHIP), None),
        (pr.Inject(0, CHIP, (0,)), Reason.BAD_CORE),
        (pr.Inject(0, 2, (99,)), Reason.BAD_CORE),                  # core before axon
        (pr.Inject(0, 0, (P.axons,)), Reason.OUT_OF_RANGE),
        (pr.Inject(5, 1, (0, 1, 2, 3, 4)), Reason.QUEUE_FULL),
        (pr.Inject(5, 1, ()), None),
        (pr.Inject(5, 1, (0, 1, 2, 3)), None),
        (pr.Inject(6, 1, (0,)), Reason.QUEUE_FULL),
        (pr.Run(3), None),
        (pr.Inject(2, 0, (0,)), Reason.BAD_STEP),
        (pr.Inject(2, 0, (P.axons,)), Reason.OUT_OF_RANGE),          # axon before step
        (pr.Checksum(0, Space.BIAS, 8, 0), None),
        (pr.Checksum(0, Space.BIAS, 8, 1), Reason.OUT_OF_RANGE),
        (pr.Checksum(3, Space.BIAS, 0, 1), Reason.BAD_CORE),
        (pr.Checksum(CHIP, 7, 0, 1), Reason.BAD_SPACE),
    ]
    for req, reason in cases:
        if reason is None:
            link.call(req)
        else:
            snap = chip.snapshot()
            assert link.nak(req) == reason, req
            assert chip.snapshot() == snap, req          # a NAK changes nothing
    assert chip.snapshot() != before
    assert pr.parse_checksum_reply(link.call(pr.Checksum(0, Space.BIAS, 8, 0))) == 0
    # unknown op and wrong lengths, with a valid CRC
    for op, body, reason in [(0x09, b"", Reason.UNKNOWN_OP), (0x00, b"\x01", Reason.UNKNOWN_OP),
                             (Op.STATUS, b"\x00", Reason.BAD_LENGTH),
                             (Op.RUN, b"\x01\x00\x00", Reason.BAD_LENGTH)]:
        link.seq += 1
        pkt = pr.parse_reply(pr.FrameDecoder().feed(
            link.emu.feed(pr.encode_request(link.seq, op, body)))[0])
        assert pkt == pr.Packet(link.seq, 1, bytes([reason]))


def crc32_bitwise(data):
    """CRC-32/ISO-HDLC from its definition: reflected 0xEDB88320, init and final XOR all ones."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def test_checksum_is_crc32_of_the_read_bytes():
    assert crc32_bitwise(b"123456789") == 0xCBF43926
    link = Link(fresh_chip())
    link.call(pr.Run(30))
    for core, space, addr, count in [(0, Space.ACC, 3, 40), (2, Space.POTENTIAL, 0, 8),
                                     (1, Space.WEIGHT, 0, 128), (CHIP, ChipSpace.ROUTE_DEST, 5, 9),
                                     (CHIP, ChipSpace.STATUS, 0, 4)]:   # not FRAMES_*
        data = link.call(pr.Read(core, space, addr, count))
        crc = pr.parse_checksum_reply(link.call(pr.Checksum(core, space, addr, count)))
        assert crc == crc32_bitwise(data), (core, space)
    assert any(link.read(0, Space.ACC))


def test_frame_level_naks_echo_the_first_byte():
    emu = ChipEmulator(FixedChip(P, 1))
    cases = [
        (b"\x05\x33\x44\x00", 0x33, Reason.BAD_FRAME),          # block cut short
        (b"\x03\x00", 0, Reason.BAD_FRAME),
        (b"\x04\x21\x06\x07\x00", 0x21, Reason.BAD_FRAME),     # 3 bytes
        (pr.encode_frame(b"\x22\x06\x00\x00"), 0x22, Reason.BAD_CRC),
        (pr.encode_frame(b"\x23" * 1101), 0x23, Reason.TOO_LONG),
    ]
    for wire, seq, reason in cases:
        assert emu.feed(wire) == pr.nak_reply(seq, reason)
    assert emu.feed(b"\x00\x01\x00\x00") == b""
    assert emu.chip.frames_rejected == len(cases) and emu.chip.frames_accepted == 0


def test_byte_at_a_time_equals_whole():
    reqs = [pr.InfoRequest(), pr.Read(0, Space.SEED, 0, 8), pr.Run(2), pr.StatusRequest(),
            pr.Write(0, Space.BIAS, 0, 1, b"\x01\x00"), pr.Read(CHIP, ChipSpace.STATUS, 0, 7)]
    wire = b"\x00".join(r.wire(i + 1) for i, r in enumerate(reqs)) + b"\x05\x01"
    whole = ChipEmulator(FixedChip(P, 2)).feed(wire)
    emu = ChipEmulator(FixedChip(P, 2))
    bytewise = b"".join(emu.feed(wire[i:i + 1]) for i in range(len(wire)))
    assert whole == bytewise
    assert len(pr.FrameDecoder().feed(whole)) == len(reqs)


# -- docs -----------------------------------------------------------------------------------------
def test_docs_examples_are_current():
    """docs/protocol.md shows exactly what the emulator answers (regenerate with
    ``python -m sal_hw.golden.emulator``)."""
    text = DOC.read_text()
    m = re.search(r"<!-- examples:begin -->\n(.*?)<!-- examples:end -->", text, re.S)
    assert m, "docs/protocol.md lacks the examples markers"
    assert m.group(1).strip() == examples_markdown().strip()


def test_docs_examples_decode_as_titled():
    examples = protocol_examples()
    assert len(examples) >= 15
    for title, request, reply in examples:
        if not reply:
            assert request == b"\x00"
            continue
        pkt = pr.parse_reply(pr.FrameDecoder().feed(reply)[0])
        m = re.match(r"NAK (\w+)", title)
        if m:
            with pytest.raises(pr.Nak) as e:
                pr.ack_body(pkt)
            assert e.value.reason == Reason[m.group(1)], title
        else:
            pr.ack_body(pkt)
    # the INFO example is the example chip
    info = pr.parse_info_reply(pr.ack_body(pr.parse_reply(
        pr.FrameDecoder().feed(examples[0][2])[0])))
    assert info.cores == 2 and info.route_entries == 16 and info.inject_depth == 8
