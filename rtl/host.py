"""The chip's host interface: docs/protocol.md in hardware, byte for byte like golden/emulator.py.

Wire bytes come in on ``rx`` and replies leave on ``tx`` (a UART on the
boards, a stream driven directly in simulation).  One request at a time
(stop and wait): while a frame is checked, executed and answered, ``rx``
is not ready, so a host sends its next request after the reply.

The path of a request::

    rx -> COBS decoder -> frame buffer (block RAM, MAX_FRAME bytes) + CRC-16
       -> frame checks -> header registers -> request checks -> execution
       -> COBS writer (+ CRC-16) -> reply buffer (block RAM, wire bytes) -> tx

**Frame checks** run at the delimiter, in the order of protocol section
1.3 (compared in FRAME_END, decided in CHECK_FRAME).  The CRC-16 unit sees
each byte two bytes late, so at the delimiter it holds the CRC of
everything but the last two bytes, which are the frame's CRC
(little-endian, so the usual zero-residue trick does not apply).

**Request checks** read the op and up to ten body bytes into registers
(the last two, the top of CHECKSUM's count, only as a flag) and then
check, in the emulator's order, length, core, space, count and range;
WRITE then validates every word (a CHECK command to the core, or the route
rules for the chip's tables) before it writes any, and INJECT checks every
axon, the step and the queue room before it queues any.  Nothing
changes before every check has passed: a NAK changes nothing but the
FRAMES_REJECTED counter.

**Replies** are COBS-encoded as they are written (:class:`.cobs.COBSWriter`),
so sending is reading the buffer.  An ACK is built from address 0, which
then *is* the retransmission store: a request whose ``seq`` equals the last
ACKed one is answered by sending it again.  A NAK is built the same way at
``_NAK_AT``, past the store, and leaves it alone.

Execution talks to the cores through their command ports (one command,
one response; RUN and APPLY to several cores at once), to the router's
table port, and to the inject queue.  The chip-level counters come in as
inputs; the FRAMES_* counters live in the frame buffer past the frame
(cleared after reset, each frame's counter read, incremented and written
back byte by byte before its reply is sent).

**Sharing** keeps the registers few: one CRC-16 unit checks a request and
then builds its reply; one word register gathers a WRITE or INJECT body,
takes a READ response and shifts reply chunks out; ``ptr`` reads the frame
buffer and then the reply buffer; the cores' command fields, the route
table port and the inject event come straight from the registers that
hold them.

**Timing** (100 MHz on the ECP5 LFE5U-85F, speed grade 6, is the target;
out of context the interface places and routes at about 120 MHz).  Three
rules shape the pipeline, each at the cost of a few cycles a request,
which stop-and-wait over a UART never notices:

- A block RAM's output (5.8 ns clock-to-out) goes straight into a
  flip-flop: the frame buffer is read through ``frame_q`` (a byte two
  cycles after its address), the reply buffer through ``reply_q``, the
  router's table words arrive three cycles after the address
  (:mod:`.router`).
- Every check decides on registers.  After the header is read, DECODE
  registers what the checks need from it (the op's length rule, the core,
  the space as a table index, the high halves of address and count that must
  be zero), DECODE2 turns the space into its properties (word bytes,
  writability, sign extension, the WRITE byte count without a
  multiplier), SPACE registers the range comparisons (address + count
  against the space's depth, count against its word limit, both limits
  from tables) for RANGE, and INJECT_CHECK registers the step and room comparisons for
  INJECT_ROOM.  A route word's check is registered in WORD and judged in
  WORD_NEXT, like a core's verdict.
- State is as wide as the build needs: addresses and counts that pass the
  range check fit the deepest space (``B`` bits), a request never loops
  over more than ``2**NW - 1`` words, and the loop keeps its word address
  (``waddr``) and the words left (``left``, with ``last`` registered)
  instead of a 33-bit index and an adder.

A reply body leaves through the word register, as wide as the build's
widest word (at least 4 bytes): a longer body (RUN, STATUS) is a chain of
chunks, and INFO's constant body comes from a byte ROM.  CHECKSUM's CRC-32
is bit-serial (eight cycles a byte, against a core's few cycles a word).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.chip import ChipSpace, Status, chip_space_info
from ..golden.protocol import MAX_DATA, MAX_FRAME, ChipInfo, Op, Reason, word_bytes
from ..golden.spaces import Space, space_info
from .cobs import COBSDecoder, COBSWriter
from .command import Op as CoreOp
from .command import command_signature, response_signature
from .compare import at_least, at_most, below
from .crc import CRC16, CRC32
from .inject import inject_event_layout
from .pipeline import delayed
from .router import RouteTableSignature

__all__ = ["HostInterface"]

_CHIP = 0xFF
# The header register: the op and body bytes 0-7; CHECKSUM's count has two more bytes, which
# only have to be zero (the loop and range state is at most 16 bits), so they leave a flag.
_HEADER_BYTES = 1 + 8
_COUNT_TOP_BYTES = 2
_REPLY_MAX = 2 + MAX_DATA + 2
# The reply buffer holds replies COBS-encoded: the stored ACK (a code byte a block of at
# most 254, and one more), then the place of a NAK (5 bytes, always 6 encoded).
_NAK_AT = _REPLY_MAX + _REPLY_MAX // 254 + 1
_NAK_END = _NAK_AT + 6
# The frame buffer keeps the FRAMES_* counters (STATUS words 4-6, 32-bit LE) past the
# frame, at a 16-byte boundary so that their addresses need no adder.
_COUNTERS_AT = 0x450
assert _COUNTERS_AT >= MAX_FRAME and _COUNTERS_AT % 16 == 0
_FRAME_DEPTH = _COUNTERS_AT + 3 * 4
_INFO_BYTES = 27


def _times(value, k):
    """``value * k`` for a small constant ``k``, as a sum of shifts."""
    terms = [value << i for i in range(k.bit_length()) if k >> i & 1]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _or_all(values, width):
    """The OR of ``values`` (one-hot alternatives: at most one is non-zero)."""
    out = Const(0, width)
    for v in values:
        out = out | v
    return out


class HostInterface(wiring.Component):
    """The protocol engine between the byte link and the chip's cores, router and inject queue.

    Parameters
    ----------
    params : CoreParams
        The cores' build parameters (INFO reports them; they size the spaces).
    cores : int
        K.
    route_entries : int
        D, the depth of ROUTE_DEST.
    inject_depth : int
        Capacity of the inject queue.
    lanes : int
        Synapse lanes of the cores (reported by INFO).

    Attributes
    ----------
    rx, tx : stream of bytes
        The link: wire bytes in, wire bytes out.
    cmd, rsp : arrays of K command / response streams
        To and from the cores' command ports (:mod:`.command`).
    route : the router's table port (:data:`.router.RouteTableSignature`, flipped)
    inject : stream of inject events (:func:`.inject.inject_event_layout`)
        Events to queue; the host checks the room first.
    chip_step, events_routed, events_injected, inject_pending : In
        The chip's counters (STATUS words 0-3).
    """

    def __init__(self, params, cores, route_entries, inject_depth, lanes=1):
        self._p, self._K, self._D, self._Q, self._L = params, cores, route_entries, \
            inject_depth, lanes
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "cmd": Out(command_signature).array(cores),
            "rsp": In(response_signature).array(cores),
            "route": In(RouteTableSignature),
            "inject": Out(stream.Signature(inject_event_layout(cores, params.axons))),
            "chip_step": In(32),
            "events_routed": In(32),
            "events_injected": In(32),
            "inject_pending": In(range(inject_depth + 1)),
        })

    def _spaces(self):
        """(is_chip, id, SpaceInfo) of every memory space a request can name."""
        p, K = self._p, self._K
        out = [(False, sp, space_info(p, sp)) for sp in Space]
        out += [(True, cs, chip_space_info(cs, K, p.neurons, self._D)) for cs in ChipSpace]
        return out

    def elaborate(self, platform):
        m = Module()
        p, K, D, Q = self._p, self._K, self._D, self._Q
        A = p.axons
        spaces = self._spaces()
        max_depth = max(info.depth for *_, info in spaces)
        # An address or count that passes the range check fits in B bits, and a request
        # never loops over more than 2**NW - 1 words (or axons), so the loop state and the
        # range arithmetic are that wide, not 32 bits.
        B = max_depth.bit_length()
        NW = max(max_depth, MAX_DATA, MAX_FRAME // 2).bit_length()
        assert B <= 16 and NW <= 16   # CHECKSUM's count: only its low 16 bits are kept
        # Words travel in W bits: the widest word of the build, and at least 32 (the
        # reply chunks and the route words); the cores' 64-bit command data only
        # ever carries W of them (and bit 63, the out-of-range mark).
        W = max(32, 8 * max(word_bytes(info.bits) for *_, info in spaces))

        m.submodules.decoder = dec = COBSDecoder()
        m.submodules.writer = writer = COBSWriter(_NAK_END)
        # one CRC-16 for both directions: a request's is checked before its reply starts
        m.submodules.crc16 = crc16 = CRC16()
        m.submodules.sum_crc = sum_crc = CRC32()
        wiring.connect(m, wiring.flipped(self.rx), dec.i)

        m.submodules.frame = frame_mem = Memory(shape=8, depth=_FRAME_DEPTH, init=[])
        frame_wr, frame_rd = frame_mem.write_port(), frame_mem.read_port()
        m.submodules.reply = reply_mem = Memory(shape=8, depth=_NAK_END, init=[])
        reply_wr, reply_rd = reply_mem.write_port(), reply_mem.read_port()
        m.d.comb += [reply_wr.addr.eq(writer.wr_addr), reply_wr.data.eq(writer.wr_data),
                     reply_wr.en.eq(writer.wr_en)]

        # -- receive: decoded bytes into the frame buffer --------------------------------
        rx_len = Signal(range(MAX_FRAME + 2))   # saturates at MAX_FRAME + 1 (too long)
        rx_error = Signal()
        seq = Signal(8)                         # the frame's first byte (0 if it has none)
        last1, last2 = Signal(8), Signal(8)     # the last two bytes (the CRC, LE)

        # -- the request -------------------------------------------------------------
        hdr = Signal(8 * _HEADER_BYTES)
        op = hdr[:8]
        body = hdr[8:]
        core, space = body[0:8], body[8:16]
        addr, count16 = body[16:48], body[48:64]
        count_top0 = Signal()                   # CHECKSUM: count bits 16-31 are zero
        run_steps = body[0:32]
        inj_step, inj_core, inj_count = body[0:32], body[32:40], body[40:56]

        # -- stage DECODE: everything the checks need from the header, registered ---------
        is_write, to_sum = Signal(), Signal()  # to_sum: CHECKSUM (words feed the CRC-32)
        is_chip, core_ok, core_mask = Signal(), Signal(), Signal(K)
        sel = Signal(5)                        # the space named: Cat(space id, chip level)
        sel_valid = Signal()                   # ... exists
        len_eq = {n: Signal(name=f"len_eq{n}") for n in (0, 1, 4, 8, 10)}
        len_ge8, inj_len_ok = Signal(), Signal()
        apply_core_bad, inj_core_bad = Signal(), Signal()
        inj_none, sum_none, run_none = Signal(), Signal(), Signal()
        addr_hi0, c16_hi0, c32_hi0 = Signal(), Signal(), Signal()   # bits B and up are 0

        # -- stage DECODE2: the named space's properties and the range arithmetic ---------
        sel_writable = Signal()
        sel_route, sel_rindex, sel_status = Signal(), Signal(), Signal()
        sel_wb, sel_wb1 = Signal(4), Signal(4)   # bytes a word, + 1
        signed_bits = sorted({info.bits for *_, info in spaces if info.signed})
        sext = {b: Signal(name=f"sext{b}") for b in signed_bits}   # a signed space of b bits
        cnt_hi0 = Signal()
        # count16 * sel_wb, WRITE's data bytes: only a count below 2**LB can match a
        # body length (c16_lo), so the product is taken of the low LB bits
        LB = MAX_FRAME.bit_length()
        wlen = Signal(LB + 3)
        c16_lo = Signal()
        n_m1, n_is1 = Signal(NW), Signal()     # words (or axons) of the request - 1, == 1

        # -- stage SPACE: the range checks, registered for RANGE --------------------------
        fits, count_ok, wlen_ok = Signal(), Signal(), Signal()

        # -- words --------------------------------------------------------------------
        # One register holds the word of the moment: gathered from a WRITE or INJECT body,
        # or a reply chunk shifting out (EMIT; a READ response goes straight into it).
        word = Signal(W)
        word_core = Signal(64)   # ``word`` as the core takes it (low bits; out of range -> bit 63)
        rsp_data = Signal(W)     # the responding core's word (zero-extended)
        rsp_word = Signal(W)     # ... as it travels (signed spaces sign-extended)
        route_bad = Signal()     # ``word`` is not a valid route word (registered in WORD)
        m.d.comb += [rsp_word.eq(rsp_data), word_core.eq(word)]
        for b in signed_bits:
            top = word[b - 1:8 * word_bytes(b)]
            word_ok = (top == 0) | (top == (1 << len(top)) - 1)
            with m.If(sext[b]):
                m.d.comb += [rsp_word.eq(rsp_data[:b].as_signed()),
                             word_core.eq(Mux(word_ok, word[:b], 1 << 63))]
        route_ok = Mux(sel_rindex, at_most(word[0:16] + word[16:24], D),
                       below(word[0:16], A) & below(word[16:24], K))

        # -- word loop state ----------------------------------------------------------
        waddr = Signal(B)                  # address of the current word
        left = Signal(NW)                  # words after the current one
        last = Signal()                    # ... none (left == 0), registered
        ptr = Signal(range(_NAK_END))      # frame buffer read pointer; sending: reply buffer
        gi = Signal(4)                     # byte within the word being gathered
        # The frame buffer is read through a register: the byte at ``ptr`` is on
        # ``frame_q`` two cycles later (a block RAM's output goes into a flip-flop first).
        frame_q = Signal(8)
        m.d.comb += frame_rd.addr.eq(ptr)
        m.d.sync += frame_q.eq(frame_rd.data)
        writing = Signal()                 # WRITE: second pass (write) rather than check

        def lookup(named, width, value):
            """``value(chip level, id, SpaceInfo)`` of the space ``named`` (as ``sel``; 0 for
            no space) from a table of constants."""
            table = [0] * 32
            for chip_level, sid, info in spaces:
                table[int(sid) | chip_level << 4] = value(chip_level, sid, info)
            return Array(Const(v, width) for v in table)[named]

        def restart():
            """Back to the request's first word."""
            m.d.sync += [waddr.eq(addr[:B]), left.eq(n_m1), last.eq(n_is1)]

        def advance():
            """On to the next word (only while not ``last``)."""
            m.d.sync += [waddr.eq(waddr + 1), left.eq(left - 1), last.eq(left == 1)]

        # -- the cores' command ports ------------------------------------------------------
        # The command's space, address and data come straight from registers that hold
        # still until the response (a core takes its command into registers).
        c_op = Signal(3)
        c_pending, c_want, c_got = Signal(K), Signal(K), Signal(K)
        c_error = Signal()
        got_now = Signal(K)
        # A response passes two registers before it is used: the cores sit across the
        # die, and a response that fed the reply's word logic in the same cycle was the
        # 4-core ULX3S's critical path; with one register, the placer put it next to the
        # core and the host's logic was still a die away from it.
        for k in range(K):
            cmd, rsp = self.cmd[k], self.rsp[k]
            rsp_valid = delayed(m, rsp.valid, 2, f"rsp{k}_valid")
            rsp_q = delayed(m, rsp.payload.data, 2, f"rsp{k}_data")
            rsp_error = delayed(m, rsp.payload.error, 2, f"rsp{k}_error")
            m.d.comb += [cmd.payload.op.eq(c_op), cmd.payload.space.eq(space),
                         cmd.payload.addr.eq(waddr),
                         cmd.payload.data.eq(word_core),
                         cmd.valid.eq(c_pending[k]), rsp.ready.eq(1), got_now[k].eq(rsp_valid)]
            with m.If(cmd.valid & cmd.ready):
                m.d.sync += c_pending[k].eq(0)
            with m.If(rsp_valid):
                m.d.comb += rsp_data.eq(rsp_q)
                m.d.sync += [c_got[k].eq(1), c_error.eq(rsp_error)]
        cores_done = (c_got | got_now) == c_want
        mask_all = (1 << K) - 1

        # The route table port and the inject event take their fields straight from registers
        # too: only ``route.we`` and ``inject.valid`` say when they count.
        ev = self.inject.payload
        m.d.comb += [self.route.table.eq(space[0]), self.route.addr.eq(waddr),
                     self.route.wdata.eq(word[:24]),
                     ev.step.eq(inj_step), ev.core.eq(inj_core), ev.axon.eq(word[:16])]

        def issue(opcode, mask):
            """Send ``opcode`` for word ``waddr`` of ``space`` to the cores in ``mask`` (data:
            ``word_core``, which for RUN holds the steps)."""
            m.d.sync += [c_op.eq(opcode), c_pending.eq(mask), c_want.eq(mask), c_got.eq(0)]

        # -- reply construction ----------------------------------------------------------------
        # A reply is encoded as it is written: an ACK from address 0 (the retransmission
        # store, ``reply_len`` bytes once closed), a NAK at _NAK_AT (the store stays).
        reply_len = Signal(range(_NAK_AT + 1))
        last_seq = Signal(8)
        have_last = Signal()

        def begin(base):
            m.d.comb += [writer.begin.eq(1), writer.base.eq(base)]

        def append(byte, crc=True):
            m.d.comb += [writer.valid.eq(1), writer.data.eq(byte)]
            if crc:
                m.d.comb += [crc16.valid.eq(1), crc16.data.eq(byte)]

        run_cycles = Signal(64)
        # STATUS words 0-3 come in as ports; 4-6 (FRAMES_*) are read from the frame buffer
        # ... each taken into a register first: they come from blocks across the die and
        # feed the reply word's multiplexer and INJECT's comparisons.  A copy one cycle
        # old is exact for both: they are read only between commands.
        status_copies = [delayed(m, port, 1, port.name)
                         for port in (self.chip_step, self.events_routed,
                                      self.events_injected, self.inject_pending)]
        chip_step_q, _, _, inject_pending_q = status_copies
        status_ports = Array(status_copies)
        status_sel = Signal(2)   # the port a READ of STATUS or a reply chunk takes
        m.d.comb += status_sel.eq(waddr[:2])

        def counter_at(index, byte=0):
            """Frame buffer address of byte ``byte`` of FRAMES_* counter ``index`` (0-2)."""
            index, byte = (Const(v, 2) if isinstance(v, int) else v for v in (index, byte))
            return Cat(byte, index, Const(_COUNTERS_AT >> 4, len(ptr) - 4))

        counted = Signal(2)      # the counter this frame increments (index, as counter_at)
        carry = Signal()         # the increment still to add, byte by byte
        info = ChipInfo(cores=K, params=p, lanes=self._L, route_entries=D, inject_depth=Q)
        info_rom = Array(Const(b, 8) for b in info.body())   # INFO's body: constant bytes
        assert len(info_rom) == _INFO_BYTES

        # Reply bodies leave through one W-bit shift register: a body longer than a word
        # is a chain of chunks, each loaded by its own state when the one before is out.
        # Chunks are STATUS words (ports through the same mux as a READ of the STATUS
        # space, counters gathered from the frame buffer) or run_cycles.
        chains = {
            "RUN": [(Status.STEP_COUNT, 4), (run_cycles[:32], 4), (run_cycles[32:], 4)],
            "STATUS": [(Status.STEP_COUNT, 4), (Status.EVENTS_ROUTED, 4),
                       (Status.FRAMES_ACCEPTED, 4), (Status.FRAMES_REJECTED, 4),
                       (Status.INJECT_PENDING, 2)],
        }
        returns = ["READ_NEXT", "FINISH"] + [f"{name}_{i}" for name, chunks in chains.items()
                                             for i in range(1, len(chunks))]
        frames_status = (Status.FRAMES_ACCEPTED, Status.FRAMES_REJECTED, Status.FRAMES_REPEATED)
        emit_n = Signal(range(W // 8 + 1))
        emit_ret = Signal(range(len(returns)))   # the state after the chunk

        def emit(value, n, then):
            """Send ``n`` bytes of ``value`` (None: of ``word`` as it is), then go to ``then``."""
            if value is not None:
                m.d.sync += word.eq(value)
            m.d.sync += [emit_n.eq(n), emit_ret.eq(returns.index(then))]
            m.next = "EMIT"

        nak_reason = Signal(range(max(Reason) + 1))
        tx_nak = Signal()        # the reply is a NAK
        # Sending reads the buffer at ``ptr``; the block RAM's output goes straight
        # into ``reply_q``, so a byte is there two cycles after its address.
        reply_q = Signal(8)
        m.d.comb += reply_rd.addr.eq(ptr)
        m.d.sync += reply_q.eq(reply_rd.data)

        def nak(reason):
            m.d.sync += nak_reason.eq(reason)
            m.next = "NAK"

        with m.FSM():
            with m.State("CLEAR"):   # after reset: the FRAMES_* counters to 0
                m.d.comb += [frame_wr.addr.eq(counter_at(gi[2:4], gi[:2])), frame_wr.en.eq(1)]
                m.d.sync += gi.eq(gi + 1)
                with m.If(gi == 3 * 4 - 1):
                    m.next = "RESTART"

            with m.State("RECEIVE"):
                m.d.comb += dec.o.ready.eq(1)
                byte = dec.o.payload.data
                with m.If(dec.o.valid & dec.o.payload.end):
                    m.d.sync += rx_error.eq(dec.o.payload.error)
                    m.next = "FRAME_END"
                with m.Elif(dec.o.valid):
                    m.d.comb += [frame_wr.addr.eq(rx_len), frame_wr.data.eq(byte),
                                 frame_wr.en.eq(rx_len < MAX_FRAME),
                                 crc16.valid.eq(rx_len >= 2), crc16.data.eq(last2)]
                    m.d.sync += [last1.eq(byte), last2.eq(last1),
                                 rx_len.eq(Mux(rx_len > MAX_FRAME, rx_len, rx_len + 1))]
                    with m.If(rx_len == 0):
                        m.d.sync += seq.eq(byte)

            f_empty, f_long, f_short, f_crc_bad, f_repeat = (Signal(name=n) for n in (
                "f_empty", "f_long", "f_short", "f_crc_bad", "f_repeat"))
            with m.State("FRAME_END"):     # the frame checks' comparisons, registered
                m.d.sync += [ptr.eq(1), gi.eq(0),
                             f_empty.eq(rx_len == 0), f_long.eq(rx_len > MAX_FRAME),
                             f_short.eq(rx_len < 4), f_crc_bad.eq(crc16.crc != Cat(last2, last1)),
                             f_repeat.eq(have_last & (seq == last_seq))]
                m.next = "CHECK_FRAME"
            with m.State("CHECK_FRAME"):   # protocol section 1.3, rows 1-6
                m.d.comb += crc16.clear.eq(1)   # checked: ready for the reply
                m.d.sync += tx_nak.eq(0)
                begin(0)
                with m.If(f_empty & ~rx_error):
                    m.next = "RESTART"
                with m.Elif(rx_error):
                    nak(Reason.BAD_FRAME)
                with m.Elif(f_long):
                    nak(Reason.TOO_LONG)
                with m.Elif(f_short):
                    nak(Reason.BAD_FRAME)
                with m.Elif(f_crc_bad):
                    nak(Reason.BAD_CRC)
                with m.Elif(f_repeat):
                    m.next = "REPEAT"
                with m.Else():
                    m.next = "HEADER"

            with m.State("HEADER"):   # bytes 1 .. 11 of the frame, one a cycle from frame_q
                m.d.sync += [ptr.eq(ptr + 1), gi.eq(gi + 1)]
                with m.If(gi < 2 + _HEADER_BYTES):
                    with m.If(gi >= 2):
                        m.d.sync += hdr.eq(Cat(hdr[8:], frame_q))
                    m.d.sync += count_top0.eq(1)
                with m.Else():
                    m.d.sync += count_top0.eq(count_top0 & (frame_q == 0))
                with m.If(gi == _HEADER_BYTES + _COUNT_TOP_BYTES + 1):
                    m.next = "DECODE"

            # ---- the request checks: two stages of decode, then a decision per state ------
            # Each check state decides only on registers: the space lookup, the length and
            # range arithmetic of the header are computed a stage or two before.
            with m.State("DECODE"):
                m.d.sync += [
                    is_write.eq(op == Op.WRITE), to_sum.eq(op == Op.CHECKSUM),
                    is_chip.eq(core == _CHIP), core_ok.eq((core == _CHIP) | below(core, K)),
                    core_mask.eq(Const(1, K) << core[:max((K - 1).bit_length(), 1)]),
                    # body length = rx_len - 4 (seq, op, CRC)
                    len_ge8.eq(rx_len >= 4 + 8),
                    inj_len_ok.eq(rx_len == 4 + 7 + Cat(Const(0, 1), inj_count)),
                    apply_core_bad.eq((core != _CHIP) & at_least(core, K)),
                    inj_core_bad.eq(at_least(inj_core, K)),
                    inj_none.eq(inj_count == 0), sum_none.eq((count16 == 0) & count_top0),
                    run_none.eq(run_steps == 0),
                    addr_hi0.eq(addr[B:] == 0), c16_hi0.eq(count16[B:] == 0),
                    c32_hi0.eq((count16[B:] == 0) & count_top0), c16_lo.eq(count16[LB:] == 0),
                ]
                m.d.sync += [len_eq[n].eq(rx_len == 4 + n) for n in len_eq]
                named = Cat(space[:4], core == _CHIP)
                m.d.sync += [sel.eq(named),
                             sel_valid.eq((space[4:] == 0) & lookup(named, 1, lambda *_: 1))]
                m.next = "DECODE2"

            with m.State("DECODE2"):
                def any_of(pred):
                    return lookup(sel, 1, lambda c, s, i: int(bool(pred(c, s, i))))

                def pick(width, value):
                    return lookup(sel, width, value)

                wbs = sorted({word_bytes(info.bits) for *_, info in spaces})
                # count16 * wb as shifts and adds (wb is at most 8: no multiplier)
                wlen_of = [Mux(any_of(lambda c, s, i, wb=wb: word_bytes(i.bits) == wb),
                               _times(count16[:LB], wb), 0) for wb in wbs]
                n = Mux(op == Op.INJECT, inj_count, count16)[:NW]
                m.d.sync += [
                    sel_writable.eq(any_of(lambda c, s, i: i.writable)),
                    sel_route.eq(any_of(lambda c, s, i: c and s in (ChipSpace.ROUTE_INDEX,
                                                                    ChipSpace.ROUTE_DEST))),
                    sel_rindex.eq(any_of(lambda c, s, i: c and s == ChipSpace.ROUTE_INDEX)),
                    sel_status.eq(any_of(lambda c, s, i: c and s == ChipSpace.STATUS)),
                    sel_wb.eq(pick(4, lambda c, s, i: word_bytes(i.bits))),
                    sel_wb1.eq(pick(4, lambda c, s, i: word_bytes(i.bits) + 1)),
                    cnt_hi0.eq(Mux(to_sum, c32_hi0, c16_hi0)),
                    wlen.eq(_or_all(wlen_of, len(wlen))),
                    n_m1.eq(Mux(n == 0, 0, n - 1)), n_is1.eq(n == 1),
                ]
                for b in signed_bits:
                    m.d.sync += sext[b].eq(any_of(lambda c, s, i, b=b: i.signed and i.bits == b)
                                           & (op != Op.RUN))   # RUN's steps pass as they are
                m.next = "DISPATCH"

            with m.State("DISPATCH"):
                m.d.sync += [gi.eq(0), writing.eq(0)]
                restart()

                def body_length(ok, then):
                    with m.If(~ok):
                        nak(Reason.BAD_LENGTH)
                    with m.Else():
                        m.next = then

                with m.Switch(op):
                    with m.Case(Op.READ):
                        body_length(len_eq[8], "SPACE")
                    with m.Case(Op.WRITE):
                        body_length(len_ge8, "SPACE")
                    with m.Case(Op.CHECKSUM):
                        body_length(len_eq[10], "SPACE")
                    with m.Case(Op.RUN):
                        body_length(len_eq[4], "REPLY")
                    with m.Case(Op.APPLY):
                        with m.If(~len_eq[1]):
                            nak(Reason.BAD_LENGTH)
                        with m.Elif(apply_core_bad):
                            nak(Reason.BAD_CORE)
                        with m.Else():
                            m.next = "REPLY"
                    with m.Case(Op.INJECT):
                        m.d.sync += ptr.eq(2 + 7)
                        with m.If(~inj_len_ok):
                            nak(Reason.BAD_LENGTH)
                        with m.Elif(inj_core_bad):
                            nak(Reason.BAD_CORE)
                        with m.Elif(inj_none):
                            m.next = "INJECT_CHECK"
                        with m.Else():
                            m.next = "AXON_GATHER"
                    with m.Case(Op.STATUS, Op.INFO):
                        body_length(len_eq[0], "REPLY")
                    with m.Default():
                        nak(Reason.UNKNOWN_OP)

            with m.State("SPACE"):   # READ, WRITE, CHECKSUM
                # the space's depth and word limit come straight from its tables
                sel_depth = lookup(sel, B + 1, lambda c, s, i: i.depth)
                max_words = lookup(sel, 16, lambda c, s, i: MAX_DATA // word_bytes(i.bits))
                m.d.sync += [ptr.eq(2 + 8),
                             fits.eq(addr_hi0 & cnt_hi0 & (addr[:B] + count16[:B] <= sel_depth)),
                             count_ok.eq((count16 != 0) & (count16 <= max_words)),
                             wlen_ok.eq(c16_lo & (rx_len == 4 + 8 + wlen))]
                with m.If(~core_ok):
                    nak(Reason.BAD_CORE)
                with m.Elif(~sel_valid):
                    nak(Reason.BAD_SPACE)
                with m.Else():
                    m.next = "RANGE"

            with m.State("RANGE"):
                with m.If(is_write):
                    with m.If(~wlen_ok):
                        nak(Reason.BAD_LENGTH)
                    with m.Elif(~count_ok | ~fits):
                        nak(Reason.OUT_OF_RANGE)
                    with m.Elif(~sel_writable):
                        nak(Reason.BAD_VALUE)
                    with m.Else():
                        m.next = "WORD_GATHER"
                with m.Elif(~(count_ok | to_sum) | ~fits):
                    nak(Reason.OUT_OF_RANGE)
                with m.Else():
                    m.next = "REPLY"

            # ---- WRITE: gather each word, check it (first pass) or write it (second) ----
            def gather(state, n, n_plus_1, then):
                """Read ``n`` bytes from ``ptr`` on into ``word`` (LE): n + 2 cycles."""
                with m.State(state):
                    with m.If(gi == 0):
                        m.d.sync += word.eq(0)
                    with m.Elif(gi >= 2):
                        m.d.sync += word.word_select((gi - 2)[:(W // 8 - 1).bit_length()],
                                                    8).eq(frame_q)
                    with m.If(gi < n):
                        m.d.sync += ptr.eq(ptr + 1)
                    with m.If(gi != n_plus_1):
                        m.d.sync += gi.eq(gi + 1)
                    with m.Else():
                        m.d.sync += gi.eq(0)
                        m.next = then

            gather("WORD_GATHER", sel_wb, sel_wb1, "WORD")
            with m.State("WORD"):
                with m.If(sel_route):
                    m.d.comb += self.route.we.eq(writing)
                    m.d.sync += route_bad.eq(~route_ok)
                    m.next = "WORD_NEXT"
                with m.Else():
                    issue(Mux(writing, CoreOp.WRITE, CoreOp.CHECK), core_mask)
                    m.next = "WORD_WAIT"
            with m.State("WORD_WAIT"):
                with m.If(cores_done):
                    m.next = "WORD_NEXT"
            with m.State("WORD_NEXT"):   # the word's verdict: route_bad, or the core's c_error
                with m.If(~writing & Mux(sel_route, route_bad, c_error)):
                    nak(Reason.BAD_VALUE)
                with m.Elif(last):
                    m.d.sync += ptr.eq(2 + 8)
                    restart()
                    m.next = "WRITE_PASS_END"
                with m.Else():
                    advance()
                    m.next = "WORD_GATHER"
            with m.State("WRITE_PASS_END"):
                with m.If(writing):
                    m.next = "FINISH"
                with m.Else():   # every word is valid: commit, then write them
                    m.next = "REPLY"

            # ---- INJECT: check every axon, then the step and the room; queue them ---------
            gather("AXON_GATHER", 2, 3, "AXON")
            with m.State("AXON"):
                with m.If(~writing):
                    with m.If(at_least(word[:16], A)):
                        nak(Reason.OUT_OF_RANGE)
                    with m.Elif(last):
                        m.next = "INJECT_CHECK"
                    with m.Else():
                        advance()
                        m.next = "AXON_GATHER"
                with m.Else():
                    m.d.comb += self.inject.valid.eq(1)
                    with m.If(self.inject.ready):
                        with m.If(last):
                            m.next = "FINISH"
                        with m.Else():
                            advance()
                            m.next = "AXON_GATHER"
            step_bad, room_bad = Signal(), Signal()
            with m.State("INJECT_CHECK"):   # the comparisons, registered for INJECT_ROOM
                m.d.sync += [ptr.eq(2 + 7), step_bad.eq(inj_step < chip_step_q),
                             room_bad.eq(inject_pending_q + inj_count > Q)]
                restart()
                m.next = "INJECT_ROOM"
            with m.State("INJECT_ROOM"):
                with m.If(step_bad):
                    nak(Reason.BAD_STEP)
                with m.Elif(room_bad):
                    nak(Reason.QUEUE_FULL)
                with m.Else():
                    m.next = "REPLY"

            # ---- the reply: seq and status, then a NAK's reason or the op's work and body ----
            with m.State("REPLY"):
                append(seq)
                m.next = "REPLY_STATUS"
            with m.State("REPLY_STATUS"):
                append(tx_nak)   # 00 ACK, 01 NAK
                m.d.sync += [writing.eq(1), gi.eq(0), run_cycles.eq(0)]
                restart()
                with m.If(tx_nak):
                    m.next = "NAK_REASON"
                with m.Else():
                    with m.Switch(op):
                        with m.Case(Op.READ, Op.CHECKSUM):
                            with m.If(to_sum & sum_none):
                                m.next = "SUM_DONE"
                            with m.Else():
                                m.next = "READ_WORD"
                        with m.Case(Op.WRITE):
                            m.next = "WORD_GATHER"
                        with m.Case(Op.INJECT):
                            with m.If(inj_none):
                                m.next = "FINISH"
                            with m.Else():
                                m.next = "AXON_GATHER"
                        with m.Case(Op.RUN):
                            with m.If(run_none):
                                m.next = "RUN_0"      # run_cycles is 0 by then
                            with m.Else():   # the steps into word (body bytes 0-3)
                                m.d.sync += ptr.eq(2)
                                m.next = "RUN_STEPS"
                        with m.Case(Op.APPLY):
                            issue(CoreOp.APPLY, Mux(is_chip, mask_all, core_mask))
                            m.next = "APPLY_WAIT"
                        with m.Case(Op.STATUS):
                            m.next = "STATUS_0"
                        with m.Case(Op.INFO):
                            m.d.sync += waddr.eq(0)   # INFO's byte
                            m.next = "INFO"

            gather("RUN_STEPS", 4, 5, "RUN_ISSUE")
            with m.State("RUN_ISSUE"):
                issue(CoreOp.RUN, mask_all)
                m.next = "RUN_WAIT"
            with m.State("RUN_WAIT"):
                m.d.sync += run_cycles.eq(run_cycles + 1)
                with m.If(cores_done):
                    m.next = "RUN_0"      # a cycle later the chip step counter has settled
            with m.State("APPLY_WAIT"):
                with m.If(cores_done):
                    m.next = "FINISH"

            for name, chunks in chains.items():
                for i, (value, n) in enumerate(chunks):
                    then = f"{name}_{i + 1}" if i + 1 < len(chunks) else "FINISH"
                    counter = isinstance(value, Status) and value in frames_status
                    with m.State(f"{name}_{i}"):
                        if counter:
                            m.d.sync += [ptr.eq(counter_at(frames_status.index(value))),
                                         gi.eq(0)]
                            m.next = f"{name}_{i}_COUNTER"
                        elif isinstance(value, Status):
                            m.d.comb += status_sel.eq(value)
                            emit(status_ports[status_sel], n, then)
                        else:
                            emit(value, n, then)
                    if counter:
                        gather(f"{name}_{i}_COUNTER", 4, 5, f"{name}_{i}_EMIT")
                        with m.State(f"{name}_{i}_EMIT"):
                            emit(None, n, then)
            with m.State("INFO"):
                append(info_rom[waddr[:(_INFO_BYTES - 1).bit_length()]])
                m.d.sync += waddr.eq(waddr + 1)
                with m.If(waddr == _INFO_BYTES - 1):
                    m.next = "FINISH"

            # ---- READ and CHECKSUM: one word after the other ------------------------------
            with m.State("READ_WORD"):
                with m.If(sel_route):
                    m.next = "READ_ROUTE_WAIT"
                with m.Elif(sel_status & waddr[2]):   # words 4-6
                    m.d.sync += [ptr.eq(counter_at(waddr[:2])), gi.eq(0)]
                    m.next = "READ_COUNTER"
                with m.Elif(sel_status):
                    emit(status_ports[status_sel], sel_wb, "READ_NEXT")
                with m.Else():
                    issue(CoreOp.READ, core_mask)
                    m.next = "READ_WAIT"
            with m.State("READ_ROUTE_WAIT"):   # the router answers three cycles later
                m.next = "READ_ROUTE_WAIT2"
            with m.State("READ_ROUTE_WAIT2"):
                m.next = "READ_ROUTE"
            with m.State("READ_ROUTE"):
                emit(self.route.rdata, sel_wb, "READ_NEXT")
            with m.State("READ_WAIT"):
                with m.If(cores_done):
                    emit(rsp_word, sel_wb, "READ_NEXT")
            gather("READ_COUNTER", 4, 5, "READ_COUNTER_EMIT")
            with m.State("READ_COUNTER_EMIT"):
                emit(None, sel_wb, "READ_NEXT")
            with m.State("READ_NEXT"):
                with m.If(last):
                    with m.If(to_sum):
                        m.next = "SUM_DONE"
                    with m.Else():
                        m.next = "FINISH"
                with m.Else():
                    advance()
                    m.next = "READ_WORD"
            with m.State("SUM_DONE"):
                with m.If(sum_crc.ready):   # its last byte is in
                    m.d.sync += to_sum.eq(0)
                    emit(sum_crc.crc, 4, "FINISH")

            with m.State("EMIT"):   # emit_n (1 to W / 8) bytes of word, one per cycle
                with m.If(to_sum):   # the CRC-32 takes a byte in eight cycles
                    m.d.comb += [sum_crc.valid.eq(1), sum_crc.data.eq(word[:8])]
                with m.Else():
                    append(word[:8])
                with m.If(~to_sum | sum_crc.ready):
                    m.d.sync += [word.eq(word >> 8), emit_n.eq(emit_n - 1)]
                    with m.If(emit_n == 1):
                        m.next = "EMIT_DONE"
            with m.State("EMIT_DONE"):
                with m.Switch(emit_ret):
                    for i, state in enumerate(returns):
                        with m.Case(i):
                            m.next = state

            # ---- the NAK: at its own place, then seq, 01, reason, CRC ---------------------------
            with m.State("NAK"):
                begin(_NAK_AT)
                m.d.sync += tx_nak.eq(1)
                m.next = "REPLY"
            with m.State("NAK_REASON"):
                append(nak_reason)
                m.next = "FINISH"

            with m.State("FINISH"):
                append(crc16.crc[:8], crc=False)
                m.next = "FINISH_HI"
            with m.State("FINISH_HI"):
                append(crc16.crc[8:], crc=False)
                m.next = "CLOSE"
            with m.State("CLOSE"):
                m.d.comb += writer.close.eq(1)
                with m.If(~writer.pending):
                    with m.If(~tx_nak):   # a new store
                        m.d.sync += [reply_len.eq(writer.end), last_seq.eq(seq),
                                     have_last.eq(1)]
                    m.d.sync += counted.eq(Mux(tx_nak, frames_status.index(Status.FRAMES_REJECTED),
                                               frames_status.index(Status.FRAMES_ACCEPTED)))
                    m.next = "COUNT"
            with m.State("REPEAT"):
                m.d.sync += counted.eq(frames_status.index(Status.FRAMES_REPEATED))
                m.next = "COUNT"

            # ---- the frame's FRAMES_* counter + 1 (saturating), in the frame buffer --------
            with m.State("COUNT"):
                m.d.sync += [ptr.eq(counter_at(counted)), gi.eq(0)]
                m.next = "COUNT_READ"
            gather("COUNT_READ", 4, 5, "COUNT_CARRY")
            with m.State("COUNT_CARRY"):
                m.d.sync += carry.eq(word[:32] != 0xFFFFFFFF)
                m.next = "COUNT_WRITE"
            with m.State("COUNT_WRITE"):   # byte by byte, the carry rippling up
                m.d.comb += [frame_wr.addr.eq(counter_at(counted, gi[:2])),
                             frame_wr.data.eq(word[:8] + carry), frame_wr.en.eq(1)]
                m.d.sync += [carry.eq(carry & (word[:8] == 0xFF)), word.eq(word >> 8),
                             gi.eq(gi + 1)]
                with m.If(gi == 3):
                    m.d.sync += ptr.eq(Mux(tx_nak, _NAK_AT, 0))
                    m.next = "SEND"

            # ---- sending: a byte every three cycles, then the delimiter ----------------------
            with m.State("SEND"):        # ptr is on the read port
                m.next = "SEND_READ"
            with m.State("SEND_READ"):   # its byte goes into reply_q
                m.next = "SEND_BYTE"
            with m.State("SEND_BYTE"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(reply_q)]
                with m.If(self.tx.ready):
                    m.d.sync += ptr.eq(ptr + 1)
                    with m.If(ptr + 1 == Mux(tx_nak, _NAK_END, reply_len)):
                        m.next = "SEND_DELIMITER"
                    with m.Else():
                        m.next = "SEND"
            with m.State("SEND_DELIMITER"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(0)]
                with m.If(self.tx.ready):
                    m.next = "RESTART"
            with m.State("RESTART"):
                m.d.comb += [crc16.clear.eq(1), sum_crc.clear.eq(1)]
                m.d.sync += [rx_len.eq(0), seq.eq(0)]
                m.next = "RECEIVE"

        return m
