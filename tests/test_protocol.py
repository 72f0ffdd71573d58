"""The host protocol, sans I/O: CRC, COBS, the frame decoder, requests and replies.

docs/protocol.md is the contract.  Vectors here are independent of the
implementation (published check values, hand-encoded COBS).
"""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sal_hw.golden import protocol as pr
from sal_hw.golden.chip import ChipSpace
from sal_hw.golden.params import CoreParams
from sal_hw.golden.protocol import (CHIP, MAX_FRAME, Ack, ChipInfo, Frame, FrameDecoder, Op,
                                    ProtocolError, Reason)
from sal_hw.golden.spaces import Space

from reference import crc16_bitwise


def test_crc16_check_value():
    assert pr.crc16(b"123456789") == 0x29B1
    assert pr.crc16(b"") == 0xFFFF
    assert pr.crc16(b"\x00") == 0xE1F0
    assert pr.crc16(b"A") == 0xB915


@given(st.binary(max_size=300))
def test_crc16_matches_bitwise_definition(data):
    assert pr.crc16(data) == crc16_bitwise(data)
    # incremental use
    assert pr.crc16(data[len(data) // 2:], pr.crc16(data[:len(data) // 2])) == crc16_bitwise(data)


# -- COBS -----------------------------------------------------------------------------------------
RUN254 = bytes(range(1, 255))           # 254 non-zero bytes: one full block
RUN255 = bytes(range(1, 256))           # 255 non-zero bytes

COBS_VECTORS = [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (RUN254[:253], b"\xfe" + RUN254[:253]),
    # Cheshire & Baker's encoder closes a full block and always emits a final code byte
    (RUN254, b"\xff" + RUN254 + b"\x01"),
    (RUN255, b"\xff" + RUN254 + b"\x02\xff"),
    (b"\x00" + RUN254, b"\x01\xff" + RUN254 + b"\x01"),
    (RUN254 + b"\x00", b"\xff" + RUN254 + b"\x01\x01"),
    (RUN254[:253] + b"\x00", b"\xfe" + RUN254[:253] + b"\x01"),
    (RUN254 + RUN254, b"\xff" + RUN254 + b"\xff" + RUN254 + b"\x01"),
    (b"\x02" * 300, b"\xff" + b"\x02" * 254 + b"\x2f" + b"\x02" * 46),
]


@pytest.mark.parametrize("data, encoded", COBS_VECTORS)
def test_cobs_vectors(data, encoded):
    assert pr.cobs_encode(data) == encoded
    assert pr.cobs_decode(encoded) == data
    frames = FrameDecoder(max_frame=2000).feed(encoded + b"\x00")
    if data:
        assert frames == [Frame(data, len(data))]
    else:
        assert frames == []     # a frame that decodes to nothing is dropped


def test_cobs_decoder_accepts_the_short_form_of_a_full_final_block():
    """Encoders that omit the final empty block (ff + 254 bytes) decode the same."""
    assert pr.cobs_decode(b"\xff" + RUN254) == RUN254
    assert pr.cobs_decode(b"\x01\xff" + RUN254) == b"\x00" + RUN254


def test_cobs_errors():
    # a block cut short by the delimiter: what was decoded so far, and the error flag
    assert FrameDecoder().feed(b"\x05\x11\x22\x00") == [Frame(b"\x11\x22", 2, True)]
    assert FrameDecoder().feed(b"\x03\x11\x02\x00") == [Frame(b"\x11\x02", 2)]   # complete
    assert FrameDecoder().feed(b"\x03\x11\x02\x04\x00") == [Frame(b"\x11\x02\x00", 3, True)]
    assert FrameDecoder().feed(b"\x02\x11\x05\x00") == [Frame(b"\x11\x00", 2, True)]
    assert FrameDecoder().feed(b"\x05\x00") == [Frame(b"", 0, True)]
    with pytest.raises(ProtocolError) as e:
        pr.cobs_decode(b"\x05\x11\x22")
    assert e.value.reason == Reason.BAD_FRAME
    with pytest.raises(ProtocolError):
        pr.cobs_decode(b"\x02\x11\x00\x01")


@given(st.binary(max_size=1200))
def test_cobs_round_trip(data):
    enc = pr.cobs_encode(data)
    assert 0 not in enc
    assert len(data) + 1 <= len(enc) <= len(data) + 1 + len(data) // 254
    assert pr.cobs_decode(enc) == data


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8), st.data())
def test_frame_decoder_takes_arbitrary_chunks(payloads, data):
    wire = b"".join(pr.encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    dec = FrameDecoder()
    frames = []
    for a, b in zip([0] + cuts, cuts + [len(wire)]):
        frames += dec.feed(wire[a:b])
    assert frames == [Frame(p, len(p)) for p in payloads]


def test_frame_decoder_ignores_empty_frames_and_bounds_memory():
    dec = FrameDecoder()
    assert dec.feed(b"\x00\x00\x01\x00\x00") == []
    big = b"\xff" + b"\x07" * 254
    frames = dec.feed(big * 40 + b"\x01\x00")
    assert len(frames) == 1
    assert frames[0].length == 254 * 40 and len(frames[0].data) == MAX_FRAME + 1
    assert frames[0].seq == 7
    assert dec.feed(b"\x02\x09\x00") == [Frame(b"\x09", 1)]


# -- frame checks ---------------------------------------------------------------------------------
def frame_of(payload):
    frames = FrameDecoder().feed(pr.encode_frame(payload))
    assert len(frames) == 1
    return frames[0]


def with_crc(data):
    return data + crc16_bitwise(data).to_bytes(2, "little")


def test_check_frame_reasons_in_order():
    ok = with_crc(b"\x21\x06")
    assert pr.check_frame(frame_of(ok)) == pr.Packet(0x21, 6, b"")
    cases = [
        (frame_of(ok[:-1] + bytes([ok[-1] ^ 1])), Reason.BAD_CRC, 0x21),
        (frame_of(b"\x21\x06\x00"), Reason.BAD_FRAME, 0x21),        # 3 bytes
        (frame_of(b"\x00"), Reason.BAD_FRAME, 0),
        (Frame(b"", 0, True), Reason.BAD_FRAME, 0),
        (Frame(b"\x33\x01", 2, True), Reason.BAD_FRAME, 0x33),
        (frame_of(with_crc(b"\x44" * (MAX_FRAME - 2))), None, 0x44),        # exactly MAX_FRAME
        (frame_of(with_crc(b"\x44" * (MAX_FRAME - 1))), Reason.TOO_LONG, 0x44),
        (Frame(b"\x55" * (MAX_FRAME + 1), 5000, True), Reason.BAD_FRAME, 0x55),  # COBS first
    ]
    for frame, reason, seq in cases:
        if reason is None:
            assert pr.check_frame(frame).seq == seq
            continue
        with pytest.raises(ProtocolError) as e:
            pr.check_frame(frame)
        assert (e.value.reason, e.value.seq) == (reason, seq)


# -- words ----------------------------------------------------------------------------------------
def test_word_bytes_and_limits():
    assert [pr.word_bytes(b) for b in (1, 8, 9, 16, 20, 24, 32, 64, 65, 128)] == \
        [1, 1, 2, 2, 3, 3, 4, 8, 9, 16]
    assert pr.max_words(8) == 1024 and pr.max_words(20) == 341 and pr.max_words(128) == 64


def test_words_encoding_examples():
    assert pr.encode_words([-3, 300], 16, True) == b"\xfd\xff\x2c\x01"
    assert pr.encode_words([-1], 20, True) == b"\xff\xff\xff"
    assert pr.encode_words([0x7FFFF, -0x80000], 20, True) == b"\xff\xff\x07\x00\x00\xf8"
    assert pr.encode_words([1 << 70], 128, False) == (1 << 70).to_bytes(16, "little")
    for bad in ([0x80000], [-0x80001]):
        with pytest.raises(ValueError):
            pr.encode_words(bad, 20, True)
    with pytest.raises(ValueError):
        pr.encode_words([16], 4, False)
    # decoding does not truncate: an out-of-range word stays out of range
    assert pr.decode_words(b"\xff\xff\x7f", 20, True) == [0x7FFFFF]
    assert pr.decode_words(b"\x1f", 4, False) == [31]


@given(st.integers(1, 130), st.booleans(), st.data())
def test_words_round_trip(bits, signed, data):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    values = data.draw(st.lists(st.integers(lo, hi), max_size=20))
    enc = pr.encode_words(values, bits, signed)
    assert len(enc) == len(values) * ((bits + 7) // 8)
    assert pr.decode_words(enc, bits, signed) == values


# -- requests -------------------------------------------------------------------------------------
u8, u16, u32 = st.integers(0, 255), st.integers(0, 65535), st.integers(0, 2 ** 32 - 1)
REQUESTS = st.one_of(
    st.builds(pr.Read, u8, u8, u32, u16),
    st.builds(lambda c, s, a, d: pr.Write(c, s, a, len(d) // 2, d), u8, u8, u32,
              st.binary(max_size=40).map(lambda b: b[:len(b) // 2 * 2])),
    st.builds(pr.Run, u32),
    st.builds(pr.Apply, u8),
    st.builds(lambda s, c, a: pr.Inject(s, c, tuple(a)), u32, u8, st.lists(u16, max_size=20)),
    st.just(pr.StatusRequest()),
    st.builds(pr.Checksum, u8, u8, u32, u32),
    st.just(pr.InfoRequest()),
)


@given(REQUESTS, u8)
def test_request_round_trip(req, seq):
    wire = req.wire(seq)
    assert wire.endswith(b"\x00") and 0 not in wire[:-1]
    frames = FrameDecoder().feed(wire)
    pkt = pr.check_frame(frames[0])
    assert (pkt.seq, pkt.code) == (seq, req.op)
    assert pr.parse_request_body(pkt) == req


def test_request_layouts():
    """Field order and widths of every request body (docs/protocol.md, Requests)."""
    assert pr.Read(3, 1, 0x01020304, 0x0506).body() == bytes.fromhex("0301 04030201 0605")
    assert pr.Write(0xFF, 0, 7, 2, b"\xaa\xbb\xcc").body() == \
        bytes.fromhex("ff00 07000000 0200 aabbcc")
    assert pr.Run(0x01020304).body() == bytes.fromhex("04030201")
    assert pr.Apply(0xFF).body() == b"\xff"
    assert pr.Inject(9, 2, (1, 0x0302)).body() == bytes.fromhex("09000000 02 0200 0100 0203")
    assert pr.StatusRequest().body() == b"" and pr.InfoRequest().body() == b""
    assert pr.Checksum(1, 2, 3, 0x10000).body() == bytes.fromhex("0102 03000000 00000100")
    assert pr.Read(0, 0, 0, 1).wire(0x10) == pr.encode_frame(
        with_crc(bytes([0x10, Op.READ]) + pr.Read(0, 0, 0, 1).body()))


@pytest.mark.parametrize("op, sizes", [
    (Op.READ, [0, 7, 9]), (Op.RUN, [0, 3, 5]), (Op.APPLY, [0, 2]), (Op.STATUS, [1]),
    (Op.CHECKSUM, [8, 9, 11]), (Op.INFO, [1, 4]), (Op.WRITE, [0, 7]), (Op.INJECT, [0, 6]),
])
def test_bad_length(op, sizes):
    for n in sizes:
        pkt = pr.Packet(0x42, op, bytes(n))
        with pytest.raises(ProtocolError) as e:
            pr.parse_request_body(pkt)
        assert (e.value.reason, e.value.seq) == (Reason.BAD_LENGTH, 0x42)


def test_inject_length_must_match_count():
    body = struct.pack("<IBH", 0, 0, 2) + b"\x01\x00"
    for extra in (b"", b"\x02\x00\x03"):
        with pytest.raises(ProtocolError) as e:
            pr.parse_request_body(pr.Packet(1, Op.INJECT, body + extra))
        assert e.value.reason == Reason.BAD_LENGTH
    assert pr.parse_request_body(pr.Packet(1, Op.INJECT, body + b"\x02\x00")).axons == (1, 2)


@pytest.mark.parametrize("code", [0x00, 0x09, 0x10, 0x81, 0xFF])
def test_unknown_op(code):
    with pytest.raises(ProtocolError) as e:
        pr.parse_request_body(pr.Packet(7, code, b""))
    assert (e.value.reason, e.value.seq) == (Reason.UNKNOWN_OP, 7)


# -- replies --------------------------------------------------------------------------------------
def reply_packet(wire):
    frames = FrameDecoder().feed(wire)
    assert len(frames) == 1
    return pr.parse_reply(frames[0])


def test_ack_and_nak_replies():
    pkt = reply_packet(pr.encode_reply(9, Ack.ACK, b"\x01\x02"))
    assert pr.ack_body(pkt, seq=9) == b"\x01\x02"
    with pytest.raises(ProtocolError, match="expected 8"):
        pr.ack_body(pkt, seq=8)
    for reason in Reason:
        pkt = reply_packet(pr.nak_reply(3, reason))
        assert pkt == pr.Packet(3, Ack.NAK, bytes([reason]))
        with pytest.raises(pr.Nak) as e:
            pr.ack_body(pkt)
        assert e.value.reason == reason and e.value.seq == 3
    assert pr.nak_reply(0x0D, Reason.BAD_CORE) == bytes.fromhex("060d0105 59ed00".replace(" ", ""))
    with pytest.raises(ProtocolError):
        reply_packet(pr.encode_reply(1, 2))            # status must be 0 or 1
    with pytest.raises(ProtocolError) as e:
        pr.ack_body(pr.Packet(1, Ack.NAK, b"\x63"))    # no such reason
    assert e.value.reason is None


def test_reply_parsers():
    assert pr.parse_run_reply(pr.RunReply(7, 2 ** 40).body()) == pr.RunReply(7, 2 ** 40)
    st_ = pr.StatusReply(1, 2, 3, 4, 5)
    assert st_.body() == struct.pack("<IIIIH", 1, 2, 3, 4, 5)
    assert pr.parse_status_reply(st_.body()) == st_
    assert pr.parse_checksum_reply((0xDEADBEEF).to_bytes(4, "little")) == 0xDEADBEEF
    for parse, n in [(pr.parse_run_reply, 11), (pr.parse_status_reply, 19),
                     (pr.parse_checksum_reply, 3), (pr.parse_info_reply, 26)]:
        with pytest.raises(ProtocolError):
            parse(bytes(n))
    info_bits = ChipInfo(2, CoreParams(), 1, 16, 8).space_info(0, Space.BIAS)
    assert pr.parse_read_reply(b"\xfd\xff\x2c\x01", info_bits, 2) == [-3, 300]
    with pytest.raises(ProtocolError):
        pr.parse_read_reply(b"\xfd\xff\x2c", info_bits, 2)


def test_chip_info_layout_and_round_trip():
    p = CoreParams(neurons=300, axons=260, history=70, weight_bits=9, acc_bits=17, u_bits=21,
                   u_frac=11, bias_bits=15, lut_bits=7, lut_width=14, kernel_bits=9, rules=16,
                   gain_bits=5)
    info = ChipInfo(cores=3, params=p, lanes=4, route_entries=65536, inject_depth=300)
    body = info.body()
    assert len(body) == 27
    assert body == bytes([1, 3]) + struct.pack("<HH", 300, 260) + \
        bytes([70, 9, 17, 21, 11, 15, 7, 14, 9, 16, 5]) + struct.pack("<HIHH", 4, 65536, 300, 1100)
    assert pr.parse_info_reply(body) == info
    si = info.space_info(CHIP, ChipSpace.ROUTE_INDEX)
    assert (si.depth, si.bits, si.signed, si.writable) == (900, 24, False, True)
    si = info.space_info(CHIP, ChipSpace.STATUS)
    assert (si.depth, si.bits, si.writable) == (7, 32, False)
    assert info.space_info(2, Space.NEURON_HIST).bits == 70
