"""The chip's host interface: docs/protocol.md in hardware, byte for byte like golden/emulator.py.

Wire bytes come in on ``rx`` and replies leave on ``tx`` (a UART on the
boards, a stream driven directly in simulation).  One request at a time
(stop and wait): while a frame is checked, executed and answered, ``rx``
is not ready, so a host sends its next request after the reply.

The path of a request::

    rx -> COBS decoder -> frame buffer (block RAM, MAX_FRAME bytes) + CRC-16
       -> frame checks -> header registers -> request checks -> execution
       -> reply buffer (block RAM, + CRC-16) -> COBS encoder -> tx

**Frame checks** run at the delimiter, in the order of protocol section
1.3.  The CRC unit sees each byte two bytes late, so at the delimiter it
holds the CRC of everything but the last two bytes, which are the frame's
CRC (little-endian, so the usual zero-residue trick does not apply).

**Request checks** read the op and up to ten body bytes into registers
and then check, in the emulator's order, length, core, space, count and
range; WRITE then validates every word (a CHECK command to the core, or the
route rules for the chip's tables) before it writes any, and INJECT checks
every axon, the step and the queue room before it queues any.  Nothing
changes before every check has passed: a NAK changes nothing but the
FRAMES_REJECTED counter.

**Replies**: an ACK is built in the reply buffer, which then *is* the
retransmission store: a request whose ``seq`` equals the last ACKed one is
answered by sending the buffer again.  A NAK (5 bytes) is sent from
registers and leaves the store alone.

Execution talks to the cores through their command ports (one command,
one response; RUN and APPLY to several cores at once), to the router's
table port, and to the inject queue.  The chip-level counters come in as
inputs; the FRAMES_* counters live here.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.chip import ChipSpace, chip_space_info
from ..golden.protocol import MAX_DATA, MAX_FRAME, ChipInfo, Op, Reason, word_bytes
from ..golden.spaces import Space, space_info
from .cobs import COBSDecoder, COBSEncoder
from .command import Op as CoreOp
from .command import command_signature, response_signature
from .crc import CRC16, CRC32, crc16_of
from .inject import inject_event_layout
from .router import RouteTableSignature

__all__ = ["HostInterface"]

_CHIP = 0xFF
_HEADER_BYTES = 11        # op + the longest fixed body part (CHECKSUM: 10 bytes)
_REPLY_MAX = 2 + MAX_DATA + 2
_INFO_BYTES = 27


def _sat_inc(counter):
    return counter.eq(Mux(counter == (1 << len(counter)) - 1, counter, counter + 1))


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

        m.submodules.decoder = dec = COBSDecoder()
        m.submodules.encoder = enc = COBSEncoder(_REPLY_MAX)
        m.submodules.rx_crc = rx_crc = CRC16()
        m.submodules.tx_crc = tx_crc = CRC16()
        m.submodules.sum_crc = sum_crc = CRC32()
        wiring.connect(m, wiring.flipped(self.rx), dec.i)
        wiring.connect(m, enc.o, wiring.flipped(self.tx))

        m.submodules.frame = frame_mem = Memory(shape=8, depth=MAX_FRAME, init=[])
        frame_wr, frame_rd = frame_mem.write_port(), frame_mem.read_port()
        m.submodules.reply = reply_mem = Memory(shape=8, depth=_REPLY_MAX, init=[])
        reply_wr, reply_rd = reply_mem.write_port(), reply_mem.read_port()

        # -- receive: decoded bytes into the frame buffer --------------------------------
        rx_len = Signal(range(MAX_FRAME + 2))   # saturates at MAX_FRAME + 1 (too long)
        rx_error = Signal()
        first = Signal(8)                       # the frame's first byte (its seq)
        last1, last2 = Signal(8), Signal(8)     # the last two bytes (the CRC, LE)

        # -- the request -------------------------------------------------------------
        hdr = Signal(8 * _HEADER_BYTES)
        op = hdr[:8]
        body = hdr[8:]
        blen = Signal(range(MAX_FRAME + 1))     # body bytes
        core, space = body[0:8], body[8:16]
        addr, count16, count32 = body[16:48], body[48:64], body[48:80]
        run_steps = body[0:32]
        apply_core = body[0:8]
        inj_step, inj_core, inj_count = body[0:32], body[32:40], body[40:56]
        is_chip = core == _CHIP

        # -- the space named by (core, space) --------------------------------------------
        sel_valid = Signal()
        sel_depth = Signal(33)
        sel_wb = Signal(4)
        sel_writable = Signal()
        sel_route = Signal()     # a routing table: words go to the router
        sel_status = Signal()
        word = Signal(64)        # a word as the core or router gives it (zero-extended)
        word_ext = Signal(64)    # ... as it travels (signed spaces sign-extended)
        raw = Signal(64)         # a word as it arrived in a WRITE
        raw_ok = Signal()        # ... lies in the space's range (signed spaces)
        raw_core = Signal(64)    # ... as the core takes it (low bits; out of range -> bit 63)
        route_ok = Signal()      # ... is a valid route word
        for chip_level, sid, info in self._spaces():
            cond = is_chip & (space == sid) if chip_level else ~is_chip & (space == sid)
            wb = word_bytes(info.bits)
            with m.If(cond):
                m.d.comb += [sel_valid.eq(1), sel_depth.eq(info.depth), sel_wb.eq(wb),
                             sel_writable.eq(info.writable)]
                if info.signed:
                    top = raw[info.bits - 1:8 * wb]
                    m.d.comb += [word_ext.eq(word[:info.bits].as_signed()),
                                 raw_ok.eq((top == 0) | (top == (1 << len(top)) - 1)),
                                 raw_core.eq(Mux(raw_ok, raw[:info.bits], 1 << 63))]
                else:
                    m.d.comb += [word_ext.eq(word), raw_ok.eq(1), raw_core.eq(raw)]
                if chip_level and sid == ChipSpace.ROUTE_INDEX:
                    m.d.comb += [sel_route.eq(1),
                                 route_ok.eq(raw[0:16] + raw[16:24] <= D)]
                elif chip_level and sid == ChipSpace.ROUTE_DEST:
                    m.d.comb += [sel_route.eq(1),
                                 route_ok.eq((raw[0:16] < A) & (raw[16:24] < K))]
                elif chip_level:
                    m.d.comb += sel_status.eq(1)
        max_words = Signal(range(MAX_DATA + 1))
        with m.Switch(sel_wb):
            for wb in sorted({word_bytes(info.bits) for _, _, info in self._spaces()}):
                with m.Case(wb):
                    m.d.comb += max_words.eq(MAX_DATA // wb)
        core_ok = Signal()
        m.d.comb += core_ok.eq(is_chip | (core < K))

        # -- word loop state ----------------------------------------------------------
        wi = Signal(33)                    # word (or axon) index within the request
        waddr = Signal(32)
        m.d.comb += waddr.eq(addr + wi)
        ptr = Signal(range(MAX_FRAME))     # frame buffer read pointer
        gi = Signal(4)                     # byte within the word being gathered
        m.d.comb += frame_rd.addr.eq(ptr)
        writing = Signal()                 # WRITE: second pass (write) rather than check
        to_sum = Signal()                  # CHECKSUM: words feed the CRC-32, not the reply

        # -- the cores' command ports ------------------------------------------------------
        c_op, c_space, c_addr, c_data = Signal(3), Signal(4), Signal(32), Signal(64)
        c_pending, c_want, c_got = Signal(K), Signal(K), Signal(K)
        c_data_in, c_error = Signal(64), Signal()
        got_now = Signal(K)
        for k in range(K):
            cmd, rsp = self.cmd[k], self.rsp[k]
            m.d.comb += [cmd.payload.op.eq(c_op), cmd.payload.space.eq(c_space),
                         cmd.payload.addr.eq(c_addr), cmd.payload.data.eq(c_data),
                         cmd.valid.eq(c_pending[k]), rsp.ready.eq(1), got_now[k].eq(rsp.valid)]
            with m.If(cmd.valid & cmd.ready):
                m.d.sync += c_pending[k].eq(0)
            with m.If(rsp.valid):
                m.d.sync += [c_got[k].eq(1), c_data_in.eq(rsp.payload.data),
                             c_error.eq(rsp.payload.error)]
        cores_done = (c_got | got_now) == c_want
        mask_all = (1 << K) - 1
        core_mask = Signal(K)
        m.d.comb += core_mask.eq(Const(1, K) << core[:max((K - 1).bit_length(), 1)])

        def issue(opcode, mask, data):
            """Send ``opcode`` for word ``waddr`` of ``space`` to the cores in ``mask``."""
            m.d.sync += [c_op.eq(opcode), c_pending.eq(mask), c_want.eq(mask), c_got.eq(0),
                         c_data.eq(data), c_space.eq(space), c_addr.eq(waddr)]

        # -- reply construction ----------------------------------------------------------------
        rlen = Signal(range(_REPLY_MAX + 1))
        reply_len = Signal(range(_REPLY_MAX + 1))   # the stored reply
        last_seq = Signal(8)
        have_last = Signal()

        def append(byte, crc=True):
            m.d.comb += [reply_wr.addr.eq(rlen), reply_wr.data.eq(byte), reply_wr.en.eq(1)]
            if crc:
                m.d.comb += [tx_crc.valid.eq(1), tx_crc.data.eq(byte)]
            m.d.sync += rlen.eq(rlen + 1)

        emit_buf = Signal(8 * _INFO_BYTES)
        emit_n = Signal(range(_INFO_BYTES + 1))
        in_loop = Signal()       # EMIT returns to the word loop

        def emit(value, n, loop=False):
            m.d.sync += [emit_buf.eq(value), emit_n.eq(n), in_loop.eq(loop)]
            m.next = "EMIT"

        seq, nak_reason = Signal(8), Signal(8)
        nak_bytes = Cat(seq, Const(1, 8), nak_reason,
                        crc16_of([seq, Const(1, 8), nak_reason]), Const(0, 24))
        nak_byte = Signal(8)
        tx_nak = Signal()
        m.d.sync += nak_byte.eq(nak_bytes.word_select(enc.addr[:3], 8))
        m.d.comb += [reply_rd.addr.eq(enc.addr), enc.data.eq(Mux(tx_nak, nak_byte, reply_rd.data))]

        def nak(reason):
            m.d.sync += nak_reason.eq(reason)
            m.next = "NAK"

        frames_accepted, frames_rejected, frames_repeated = Signal(32), Signal(32), Signal(32)
        run_cycles = Signal(64)
        status_words = Array([self.chip_step, self.events_routed, self.events_injected,
                              self.inject_pending, frames_accepted, frames_rejected,
                              frames_repeated])
        info = ChipInfo(cores=K, params=p, lanes=self._L, route_entries=D, inject_depth=Q)
        info_value = int.from_bytes(info.body(), "little")
        assert len(info.body()) == _INFO_BYTES

        with m.FSM():
            with m.State("RECEIVE"):
                m.d.comb += dec.o.ready.eq(1)
                byte = dec.o.payload.data
                with m.If(dec.o.valid & dec.o.payload.end):
                    m.d.sync += rx_error.eq(dec.o.payload.error)
                    m.next = "CHECK_FRAME"
                with m.Elif(dec.o.valid):
                    m.d.comb += [frame_wr.addr.eq(rx_len), frame_wr.data.eq(byte),
                                 frame_wr.en.eq(rx_len < MAX_FRAME),
                                 rx_crc.valid.eq(rx_len >= 2), rx_crc.data.eq(last2)]
                    m.d.sync += [last1.eq(byte), last2.eq(last1),
                                 rx_len.eq(Mux(rx_len > MAX_FRAME, rx_len, rx_len + 1))]
                    with m.If(rx_len == 0):
                        m.d.sync += first.eq(byte)

            with m.State("CHECK_FRAME"):   # protocol section 1.3, rows 1-6
                m.d.sync += [seq.eq(Mux(rx_len != 0, first, 0)), ptr.eq(1), gi.eq(0),
                             blen.eq(rx_len - 4)]
                with m.If((rx_len == 0) & ~rx_error):
                    m.next = "RESTART"
                with m.Elif(rx_error):
                    nak(Reason.BAD_FRAME)
                with m.Elif(rx_len > MAX_FRAME):
                    nak(Reason.TOO_LONG)
                with m.Elif(rx_len < 4):
                    nak(Reason.BAD_FRAME)
                with m.Elif(rx_crc.crc != Cat(last2, last1)):
                    nak(Reason.BAD_CRC)
                with m.Elif(have_last & (first == last_seq)):
                    m.next = "REPEAT"
                with m.Else():
                    m.next = "HEADER"

            with m.State("HEADER"):   # bytes 1 .. 11 of the frame, one per cycle
                m.d.sync += [ptr.eq(ptr + 1), gi.eq(gi + 1)]
                with m.If(gi != 0):
                    m.d.sync += hdr.eq(Cat(hdr[8:], frame_rd.data))
                with m.If(gi == _HEADER_BYTES):
                    m.next = "DISPATCH"

            with m.State("DISPATCH"):
                m.d.sync += [wi.eq(0), gi.eq(0), writing.eq(0), to_sum.eq(Op.CHECKSUM == op)]

                def body_length(ok, then):
                    with m.If(~ok):
                        nak(Reason.BAD_LENGTH)
                    with m.Else():
                        m.next = then

                with m.Switch(op):
                    with m.Case(Op.READ):
                        body_length(blen == 8, "SPACE")
                    with m.Case(Op.WRITE):
                        body_length(blen >= 8, "SPACE")
                    with m.Case(Op.CHECKSUM):
                        body_length(blen == 10, "SPACE")
                    with m.Case(Op.RUN):
                        body_length(blen == 4, "COMMIT")
                    with m.Case(Op.APPLY):
                        with m.If(blen != 1):
                            nak(Reason.BAD_LENGTH)
                        with m.Elif((apply_core != _CHIP) & (apply_core >= K)):
                            nak(Reason.BAD_CORE)
                        with m.Else():
                            m.next = "COMMIT"
                    with m.Case(Op.INJECT):
                        m.d.sync += ptr.eq(2 + 7)
                        with m.If((blen < 7) | (blen != 7 + 2 * inj_count)):
                            nak(Reason.BAD_LENGTH)
                        with m.Elif(inj_core >= K):
                            nak(Reason.BAD_CORE)
                        with m.Elif(inj_count == 0):
                            m.next = "INJECT_CHECK"
                        with m.Else():
                            m.next = "AXON_GATHER"
                    with m.Case(Op.STATUS, Op.INFO):
                        body_length(blen == 0, "COMMIT")
                    with m.Default():
                        nak(Reason.UNKNOWN_OP)

            with m.State("SPACE"):   # READ, WRITE, CHECKSUM
                m.d.sync += ptr.eq(2 + 8)
                with m.If(~core_ok):
                    nak(Reason.BAD_CORE)
                with m.Elif(~sel_valid):
                    nak(Reason.BAD_SPACE)
                with m.Else():
                    m.next = "RANGE"

            with m.State("RANGE"):
                fits = addr + Mux(to_sum, count32, count16) <= sel_depth
                count_ok = (count16 != 0) & (count16 <= max_words)
                with m.If(op == Op.WRITE):
                    with m.If(blen != 8 + count16 * sel_wb):
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
                    m.next = "COMMIT"

            # ---- WRITE: gather each word, check it (first pass) or write it (second) ----
            def gather(state, n, then):
                """Read ``n`` bytes from ``ptr`` on into ``raw`` (LE): n + 1 cycles."""
                with m.State(state):
                    with m.If(gi == 0):
                        m.d.sync += raw.eq(0)
                    with m.Else():
                        m.d.sync += raw.word_select((gi - 1)[:3], 8).eq(frame_rd.data)
                    with m.If(gi != n):
                        m.d.sync += [ptr.eq(ptr + 1), gi.eq(gi + 1)]
                    with m.Else():
                        m.d.sync += gi.eq(0)
                        m.next = then

            gather("WORD_GATHER", sel_wb, "WORD")
            with m.State("WORD"):
                with m.If(sel_route):
                    m.d.comb += [self.route.table.eq(space[0]), self.route.addr.eq(waddr),
                                 self.route.wdata.eq(raw[:24]), self.route.we.eq(writing)]
                    with m.If(~writing & ~route_ok):
                        nak(Reason.BAD_VALUE)
                    with m.Else():
                        m.next = "WORD_NEXT"
                with m.Else():
                    issue(Mux(writing, CoreOp.WRITE, CoreOp.CHECK), core_mask, raw_core)
                    m.next = "WORD_WAIT"
            with m.State("WORD_WAIT"):
                with m.If(cores_done):
                    m.next = "WORD_NEXT"
            with m.State("WORD_NEXT"):
                with m.If(~writing & ~sel_route & c_error):
                    nak(Reason.BAD_VALUE)
                with m.Elif(wi + 1 == count16):
                    m.d.sync += [wi.eq(0), ptr.eq(2 + 8)]
                    m.next = "WRITE_PASS_END"
                with m.Else():
                    m.d.sync += wi.eq(wi + 1)
                    m.next = "WORD_GATHER"
            with m.State("WRITE_PASS_END"):
                with m.If(writing):
                    m.next = "FINISH"
                with m.Else():   # every word is valid: commit, then write them
                    m.next = "COMMIT"

            # ---- INJECT: check every axon, then the step and the room; queue them ---------
            gather("AXON_GATHER", 2, "AXON")
            with m.State("AXON"):
                ev = self.inject.payload
                m.d.comb += [ev.step.eq(inj_step), ev.core.eq(inj_core), ev.axon.eq(raw[:16])]
                last = wi + 1 == inj_count
                with m.If(~writing):
                    with m.If(raw[:16] >= A):
                        nak(Reason.OUT_OF_RANGE)
                    with m.Elif(last):
                        m.next = "INJECT_CHECK"
                    with m.Else():
                        m.d.sync += wi.eq(wi + 1)
                        m.next = "AXON_GATHER"
                with m.Else():
                    m.d.comb += self.inject.valid.eq(1)
                    with m.If(self.inject.ready):
                        m.d.sync += wi.eq(wi + 1)
                        m.next = "AXON_PUSHED"
            with m.State("AXON_PUSHED"):
                with m.If(wi == inj_count):
                    m.next = "FINISH"
                with m.Else():
                    m.next = "AXON_GATHER"
            with m.State("INJECT_CHECK"):
                m.d.sync += [wi.eq(0), ptr.eq(2 + 7)]
                with m.If(inj_step < self.chip_step):
                    nak(Reason.BAD_STEP)
                with m.Elif(self.inject_pending + inj_count > Q):
                    nak(Reason.QUEUE_FULL)
                with m.Else():
                    m.next = "COMMIT"

            # ---- the ACK: header, then the op's work and body ---------------------------------
            with m.State("COMMIT"):
                append(seq)
                m.next = "COMMIT_STATUS"
            with m.State("COMMIT_STATUS"):
                append(Const(0, 8))
                m.d.sync += [writing.eq(1), wi.eq(0), gi.eq(0), run_cycles.eq(0)]
                with m.Switch(op):
                    with m.Case(Op.READ, Op.CHECKSUM):
                        with m.If(to_sum & (count32 == 0)):
                            m.next = "SUM_DONE"
                        with m.Else():
                            m.next = "READ_WORD"
                    with m.Case(Op.WRITE):
                        m.next = "WORD_GATHER"
                    with m.Case(Op.INJECT):
                        with m.If(inj_count == 0):
                            m.next = "FINISH"
                        with m.Else():
                            m.next = "AXON_GATHER"
                    with m.Case(Op.RUN):
                        with m.If(run_steps == 0):
                            emit(Cat(self.chip_step, Const(0, 64)), 12)
                        with m.Else():
                            issue(CoreOp.RUN, mask_all, run_steps)
                            m.next = "RUN_WAIT"
                    with m.Case(Op.APPLY):
                        issue(CoreOp.APPLY, Mux(apply_core == _CHIP, mask_all, core_mask), 0)
                        m.next = "APPLY_WAIT"
                    with m.Case(Op.STATUS):
                        emit(Cat(self.chip_step, self.events_routed, frames_accepted,
                                 frames_rejected, self.inject_pending), 18)
                    with m.Case(Op.INFO):
                        emit(Const(info_value, 8 * _INFO_BYTES), _INFO_BYTES)

            with m.State("RUN_WAIT"):
                m.d.sync += run_cycles.eq(run_cycles + 1)
                with m.If(cores_done):
                    m.next = "RUN_REPLY"
            with m.State("RUN_REPLY"):   # the chip step counter has settled
                emit(Cat(self.chip_step, run_cycles), 12)
            with m.State("APPLY_WAIT"):
                with m.If(cores_done):
                    m.next = "FINISH"

            # ---- READ and CHECKSUM: one word after the other ------------------------------
            with m.State("READ_WORD"):
                with m.If(sel_route):
                    m.d.comb += [self.route.table.eq(space[0]), self.route.addr.eq(waddr)]
                    m.next = "READ_ROUTE"
                with m.Elif(sel_status):
                    m.d.sync += word.eq(status_words[waddr[:3]])
                    m.next = "READ_EMIT"
                with m.Else():
                    issue(CoreOp.READ, core_mask, 0)
                    m.next = "READ_WAIT"
            with m.State("READ_ROUTE"):
                m.d.sync += word.eq(self.route.rdata)
                m.next = "READ_EMIT"
            with m.State("READ_WAIT"):
                with m.If(cores_done):
                    m.next = "READ_CAPTURE"
            with m.State("READ_CAPTURE"):   # the response has landed in c_data_in
                m.d.sync += word.eq(c_data_in)
                m.next = "READ_EMIT"
            with m.State("READ_EMIT"):
                emit(word_ext, sel_wb, loop=True)
            with m.State("READ_NEXT"):
                m.d.sync += wi.eq(wi + 1)
                with m.If(wi + 1 == Mux(to_sum, count32, count16)):
                    with m.If(to_sum):
                        m.next = "SUM_DONE"
                    with m.Else():
                        m.next = "FINISH"
                with m.Else():
                    m.next = "READ_WORD"
            with m.State("SUM_DONE"):
                m.d.sync += to_sum.eq(0)
                emit(sum_crc.crc, 4)

            with m.State("EMIT"):
                with m.If(emit_n == 0):
                    m.next = "EMIT_DONE"
                with m.Else():
                    with m.If(to_sum):
                        m.d.comb += [sum_crc.valid.eq(1), sum_crc.data.eq(emit_buf[:8])]
                    with m.Else():
                        append(emit_buf[:8])
                    m.d.sync += [emit_buf.eq(emit_buf >> 8), emit_n.eq(emit_n - 1)]
            with m.State("EMIT_DONE"):
                with m.If(in_loop):
                    m.next = "READ_NEXT"
                with m.Else():
                    m.next = "FINISH"

            with m.State("FINISH"):
                append(tx_crc.crc[:8], crc=False)
                m.next = "FINISH_HI"
            with m.State("FINISH_HI"):
                append(tx_crc.crc[8:], crc=False)
                m.d.sync += [reply_len.eq(rlen + 1), last_seq.eq(seq), have_last.eq(1),
                             _sat_inc(frames_accepted)]
                m.next = "SEND"

            # ---- sending -----------------------------------------------------------------------
            with m.State("SEND"):
                m.d.comb += [enc.start.eq(1), enc.length.eq(reply_len)]
                m.d.sync += tx_nak.eq(0)
                m.next = "SENDING"
            with m.State("REPEAT"):
                m.d.comb += [enc.start.eq(1), enc.length.eq(reply_len)]
                m.d.sync += [tx_nak.eq(0), _sat_inc(frames_repeated)]
                m.next = "SENDING"
            with m.State("NAK"):
                m.d.comb += [enc.start.eq(1), enc.length.eq(5)]
                m.d.sync += [tx_nak.eq(1), _sat_inc(frames_rejected)]
                m.next = "SENDING"
            with m.State("SENDING"):
                with m.If(~enc.busy):
                    m.next = "RESTART"
            with m.State("RESTART"):
                m.d.comb += [rx_crc.clear.eq(1), tx_crc.clear.eq(1), sum_crc.clear.eq(1)]
                m.d.sync += [rx_len.eq(0), rlen.eq(0)]
                m.next = "RECEIVE"

        return m
