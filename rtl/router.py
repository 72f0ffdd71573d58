"""The multi-core spike router: address events from ``K`` cores' neurons to ``K`` cores' axons.

Every spike that core c emits (neuron n, on ``spikes[c]``) is one event.  Its
deliveries are listed in two tables (block RAMs with synchronous read
ports; word layouts LSB first):

==============  ==========  =====================================================
table           address     word (24 bits)
==============  ==========  =====================================================
ROUTE_INDEX     c * N + n   ``start`` (bits 0-15), ``count`` (bits 16-23): the
                            event's deliveries are entries start .. start+count-1
ROUTE_DEST      e           ``axon`` (bits 0-15), ``core`` (bits 16-23): entry e
                            delivers axon event ``axon`` to core ``core``
==============  ==========  =====================================================

Several neurons may share entries (overlapping ranges), an entry may target
the source's own core, and a neuron with ``count = 0`` reaches nothing.

The memories keep only the bits the instance needs: ``start`` in
ceil(log2 D) bits, ``count`` in 8, ``axon`` in ceil(log2 A), ``core`` in
ceil(log2 K) (each at least 1); wider fields are truncated on writes and
read back zero-extended.  The host (the chip's command decode) keeps
``start + count <= D``, ``axon < A`` and ``core < K``; an entry whose stored
``core`` is K or more (only possible when K is not a power of two) delivers
nothing (it takes its cycle and is not counted).

The path of an event, one stage per cycle::

    spikes[c] -> source FIFO c -> arbiter -> ROUTE_INDEX -> idx -> expander
              -> ROUTE_DEST -> dq -> delivery (main, skid)
              -> destination FIFO (entry's core) -> axons[core]

``idx`` and ``dq`` are registers right after the two block RAMs: a block
RAM's output is slow (5.8 ns clock-to-out on the ECP5 LFE5U-85F), so it
goes into a flip-flop before any logic sees it.

- **Source FIFOs** (one per core, ``fifo_depth`` entries): ``spikes[c].ready``
  is low only while FIFO c is full.
- **Arbiter**: when the index stage can take an event, it pops the head of
  the next non-empty source FIFO after the one it served last (round robin)
  and presents ``c * N + n`` to ROUTE_INDEX.
- **Expander**: holds the event's ``start``/``count`` and reads one
  ROUTE_DEST entry per cycle, in entry order; it takes the next event in the
  cycle it reads the last entry of the current one, so a stream of events
  moves one delivery per cycle.  The first entry of an event is read in the
  cycle its index word is in ``idx``.
- **Delivery stage**: pushes the destination word (in ``main``) into the
  FIFO of its core (``fifo_depth`` entries).  While that FIFO is full the
  delivery waits, the word that ``dq`` hands over meanwhile waits in
  ``skid``, and while ``skid`` is full the whole pipeline behind it stalls
  (nothing is dropped); the source FIFOs keep taking events until they are
  full.  The stall is the register "``skid`` full", not a function of the
  destination FIFOs' levels: that keeps the path from a full FIFO to the
  arbiter and the source FIFOs' read addresses one flip-flop long (a skid
  buffer).

Per-source order holds because a source FIFO, the arbiter and the
expander's one-event-at-a-time walk all keep order, and each destination
FIFO keeps the order of its pushes: the events of one source reach each
destination in the order they were accepted, each event's entries in
entry order.

Latency (every output ready, nothing queued): an event accepted at the
clock edge ending cycle t is popped by the arbiter in t + 1, its index word
arrives in t + 2 and is in ``idx`` in t + 3 together with the read of its
first entry, the entry's word arrives in t + 4, is in ``dq`` in t + 5 and
in ``main`` in t + 6, where it is pushed, and ``axons[core].valid`` is high
in t + 7 with it; the event's i-th entry follows i cycles later.  Sustained
throughput is one delivery per cycle for the whole router (an event with
``count = 0`` takes one cycle); each source FIFO takes one event per cycle.

``idle`` is high when every FIFO is empty and no event is in the index,
expander or delivery stage.  It is computed from registers only: an event
accepted at the edge ending cycle t clears ``idle`` from t + 1 on.  The
chip's end-of-step barrier waits for ``idle`` once every core has finished
emitting.

Verification: tests/test_rtl_router.py (amaranth.sim against a scoreboard,
K = 1 to 8, random tables and backpressure) and formal/ (SymbiYosys bounded
proofs on K = 2, F = 2: nothing lost, duplicated or reordered per source,
input ready exactly when not full, round-robin service, and with at most 2
entries per event every event fully delivered within 17 cycles of its
acceptance when outputs are always ready, within 49 when they are never
low 3 cycles in a row).
"""

from enum import IntEnum

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .compare import below
from .fifo import StreamFIFO

__all__ = ["Table", "RouteTableSignature", "route_index_layout", "route_dest_layout",
           "SpikeRouter"]

#: ROUTE_INDEX word (LSB first)
route_index_layout = data.StructLayout({"start": 16, "count": 8})
#: ROUTE_DEST word (LSB first)
route_dest_layout = data.StructLayout({"axon": 16, "core": 8})


class Table(IntEnum):
    INDEX = 0    # ROUTE_INDEX, address c * N + n
    DEST = 1     # ROUTE_DEST, address e


#: the host's port to the routing tables, seen from the router
RouteTableSignature = wiring.Signature({
    "table": In(1),
    "addr": In(16),
    "wdata": In(24),
    "we": In(1),
    "rdata": Out(24),
})


def _bits(n):
    """Bits of an index into ``n`` things (at least 1)."""
    return max((n - 1).bit_length(), 1)


_FAULTS = (None, "drop_on_stall", "ignore_full", "fixed_priority")


class SpikeRouter(wiring.Component):
    """Routes spike events of ``cores`` cores through a routing table to their axons.

    Parameters
    ----------
    cores : int
        K, 1 to 8: source cores and destination cores.
    neurons : int
        N: neurons per core (payload ``range(N)`` of ``spikes[c]``).
    axons : int
        A: axons per core (payload ``range(A)`` of ``axons[c]``), at most 2**16.
    route_entries : int
        D: depth of ROUTE_DEST, at most 2**16.
    fifo_depth : int
        F: entries of every source and destination FIFO.
    count_bits : int
        Width of ``events_routed`` (32 on the chip; smaller in tests of
        its saturation).
    _fault : str or None
        For the formal suite and the scoreboard's self-test only: build a
        broken router that must fail them.  ``"drop_on_stall"``: the
        arbiter pops a source FIFO while the index stage is full (the event
        is lost); ``"ignore_full"``: deliveries into a full destination FIFO
        are dropped instead of stalling; ``"fixed_priority"``: the arbiter
        always serves the lowest-numbered non-empty source (starvation).

    Attributes
    ----------
    spikes : In(stream.Signature(range(N))).array(K)
        ``spikes[c]``: neuron indices of core c's spikes.  ``ready`` is low
        only while source FIFO c is full.
    axons : Out(stream.Signature(range(A))).array(K)
        ``axons[c]``: axon events for core c, which may hold ``ready`` low
        for any time.
    host : Out(RouteTableSignature)
        The tables' host port, for use while ``idle``: ``table`` (0 =
        ROUTE_INDEX, 1 = ROUTE_DEST), ``addr``, ``wdata`` with ``we`` writes
        a 24-bit word (layouts above; the bits the memories do not keep are
        dropped); a read in cycle t answers on ``rdata`` in cycle t + 2
        (from registers: the block RAM's word goes into one first), and
        ``rdata`` is 0 in any other cycle.  An address outside the table
        writes nothing and reads 0.  While events are in flight, reads
        answer garbage and a written entry may or may not be seen by them
        (no event is lost or duplicated).
    idle : Out(1)
        Every FIFO empty, nothing in flight.
    events_routed : Out(count_bits)
        Deliveries (handshakes on ``axons``) since reset, saturating at
        ``2**count_bits - 1``.
    """

    def __init__(self, cores, neurons, axons, route_entries, fifo_depth=4, *, count_bits=32,
                 _fault=None):
        if not isinstance(cores, int) or not 1 <= cores <= 8:
            raise ValueError(f"cores must be an integer from 1 to 8, not {cores!r}")
        for name, value, top in (("neurons", neurons, None), ("axons", axons, 1 << 16),
                                 ("route_entries", route_entries, 1 << 16)):
            if not isinstance(value, int) or value < 1 or (top and value > top):
                limit = f" up to {top}" if top else ""
                raise ValueError(f"{name} must be a positive integer{limit}, not {value!r}")
        if cores * neurons > 1 << 16:
            raise ValueError(f"cores * neurons must be at most 65536 (16-bit ROUTE_INDEX "
                             f"address), not {cores} * {neurons}")
        if not isinstance(fifo_depth, int) or fifo_depth < 1:
            raise ValueError(f"fifo_depth must be a positive integer, not {fifo_depth!r}")
        if not isinstance(count_bits, int) or not 1 <= count_bits <= 64:
            raise ValueError(f"count_bits must be from 1 to 64, not {count_bits!r}")
        if _fault not in _FAULTS:
            raise ValueError(f"_fault must be one of {_FAULTS}, not {_fault!r}")
        self._K, self._N, self._A, self._D, self._F = cores, neurons, axons, route_entries, \
            fifo_depth
        self._fault = _fault
        # Made here, not in elaborate, so that the formal harness (formal/) can watch
        # the FIFOs' handshakes.
        self._src_fifos = [StreamFIFO(range(neurons), fifo_depth) for _ in range(cores)]
        self._dst_fifos = [StreamFIFO(range(axons), fifo_depth) for _ in range(cores)]
        super().__init__({
            "spikes": In(stream.Signature(range(neurons))).array(cores),
            "axons": Out(stream.Signature(range(axons))).array(cores),
            "host": Out(RouteTableSignature),
            "idle": Out(1),
            "events_routed": Out(count_bits),
        })

    @property
    def cores(self):
        return self._K

    @property
    def neurons(self):
        return self._N

    @property
    def axons_per_core(self):
        return self._A

    @property
    def route_entries(self):
        return self._D

    @property
    def fifo_depth(self):
        return self._F

    def elaborate(self, platform):
        m = Module()
        K, N, A, D = self._K, self._N, self._A, self._D
        fault = self._fault
        host = self.host

        for k in range(K):
            m.submodules[f"src_fifo{k}"] = self._src_fifos[k]
            m.submodules[f"dst_fifo{k}"] = self._dst_fifos[k]
            wiring.connect(m, wiring.flipped(self.spikes[k]), self._src_fifos[k].w)
            wiring.connect(m, self._dst_fifos[k].r, wiring.flipped(self.axons[k]))
        src = [f.r for f in self._src_fifos]
        dst = [f.w for f in self._dst_fifos]

        # The memories keep only the bits this instance needs.
        index_store = data.StructLayout({"start": _bits(D), "count": 8})
        dest_store = data.StructLayout({"axon": _bits(A), "core": _bits(K)})
        m.submodules.route_index = index_mem = Memory(shape=index_store, depth=K * N, init=[])
        m.submodules.route_dest = dest_mem = Memory(shape=dest_store, depth=D, init=[])
        index_wp = index_mem.write_port()
        index_rp = index_mem.read_port()
        dest_wp = dest_mem.write_port()
        dest_rp = dest_mem.read_port()

        # -- host port: its requests go through a register first (the host's state
        # machine decides them; the tables' address multiplexers should not see that) ----
        h = {f: Signal.like(getattr(host, f), name=f"host_{f}")
             for f in ("table", "addr", "wdata", "we")}
        m.d.sync += [h[f].eq(getattr(host, f)) for f in h]
        index_hit = (h["table"] == Table.INDEX) & below(h["addr"], K * N)
        dest_hit = (h["table"] == Table.DEST) & below(h["addr"], D)
        w_index = route_index_layout(h["wdata"])
        w_dest = route_dest_layout(h["wdata"])
        m.d.comb += [
            index_wp.addr.eq(h["addr"]),
            index_wp.data.start.eq(w_index.start), index_wp.data.count.eq(w_index.count),
            index_wp.en.eq(h["we"] & index_hit),
            dest_wp.addr.eq(h["addr"]),
            dest_wp.data.axon.eq(w_dest.axon), dest_wp.data.core.eq(w_dest.core),
            dest_wp.en.eq(h["we"] & dest_hit),
        ]
        # A read answers three cycles later: the request register, then the registers that
        # follow the block RAMs (``idx`` and ``dq`` below take every word the memories give
        # while the router is idle), so the block RAMs' words go into flip-flops before logic.
        r_index, r_dest = Signal(2), Signal(2)    # a read of the table 1, 2 cycles ago
        m.d.sync += [r_index.eq(Cat(index_hit & ~h["we"], r_index[0])),
                     r_dest.eq(Cat(dest_hit & ~h["we"], r_dest[0]))]

        # -- the stall: a registered ready from the delivery stage's skid buffer -----------
        # Every stage before the delivery stage moves when ``stall`` is low and holds when
        # it is high; ``stall`` is a flip-flop (the skid register is full), so a full
        # destination FIFO never reaches the arbiter through logic in one cycle.
        stall = Signal()

        # -- arbiter: round robin over non-empty source FIFOs --------------------------
        s1_valid = Signal()              # ROUTE_INDEX word of an event on index_rp.data
        s1r_valid = Signal()             # ... registered in ``idx``
        idx = Signal(index_store)
        adv1 = Signal()                  # the index stages move on this cycle
        last = Signal(range(K))          # source served last
        grant = Signal(range(K))
        any_req = Signal()
        m.d.comb += any_req.eq(Cat(s.valid for s in src).any())
        if fault == "fixed_priority":    # formal suite only: lowest index first, starves
            for k in reversed(range(K)):
                with m.If(src[k].valid):
                    m.d.comb += grant.eq(k)
        else:
            with m.Switch(last):
                for prev in range(K):
                    with m.Case(prev):
                        # priority prev + 1, prev + 2, ..., prev: the last If wins.
                        for off in reversed(range(1, K + 1)):
                            k = (prev + off) % K
                            with m.If(src[k].valid):
                                m.d.comb += grant.eq(k)
        pop = Signal()
        if fault == "drop_on_stall":     # formal suite only: pops while the index stage holds
            m.d.comb += pop.eq(any_req)
        else:
            m.d.comb += pop.eq(any_req & adv1)
        for k in range(K):
            m.d.comb += src[k].ready.eq(pop & (grant == k))
        head = Array(s.payload for s in src)[grant]
        with m.If(pop):
            m.d.sync += last.eq(grant)

        m.d.comb += [
            index_rp.addr.eq(Mux(any_req, grant * N + head, h["addr"])),
            index_rp.en.eq(adv1),
        ]
        with m.If(adv1):
            m.d.sync += [s1_valid.eq(pop), s1r_valid.eq(s1_valid), idx.eq(index_rp.data)]

        # -- expander --------------------------------------------------------------------
        e_ptr = Signal(range(D + 1))     # next entry to read
        e_left = Signal(8)               # entries of the event still to read
        busy = Signal()                  # e_left != 0
        e_last = Signal()                # e_left == 1
        take = Signal()                  # the expander takes the event in ``idx``
        issue = Signal()                 # a ROUTE_DEST read for a delivery this cycle
        m.d.comb += [
            take.eq(s1r_valid & ~stall & (~busy | e_last)),
            issue.eq(~stall & (busy | (take & (idx.count != 0)))),
            adv1.eq(~s1r_valid | take),
            dest_rp.addr.eq(Mux(busy, e_ptr, Mux(take, idx.start, h["addr"]))),
            dest_rp.en.eq(~stall),
        ]

        def load(ptr, left):
            m.d.sync += [e_ptr.eq(ptr), e_left.eq(left), busy.eq(left != 0),
                         e_last.eq(left == 1)]

        with m.If(take):
            with m.If(busy | (idx.count == 0)):   # (busy: its last entry is read now)
                load(idx.start, idx.count)
            with m.Else():                        # first entry read with the take
                load(idx.start + 1, idx.count - 1)
        with m.Elif(issue):
            load(e_ptr + 1, e_left - 1)

        # -- delivery: ROUTE_DEST word registered, then a skid buffer ------------------------
        s2_valid = Signal()              # ROUTE_DEST word of a delivery on dest_rp.data
        dq_valid = Signal()              # ... registered in ``dq``
        dq = Signal(dest_store)
        with m.If(~stall):
            m.d.sync += [s2_valid.eq(issue), dq_valid.eq(s2_valid), dq.eq(dest_rp.data)]

        # ``main`` offers its delivery to the FIFO of its core; ``skid`` catches the one
        # that ``dq`` hands over in the cycle ``main`` is refused, and while it is full
        # the stages before hold (``stall``).
        main, skid = Signal(dest_store), Signal(dest_store)
        main_valid, skid_valid = Signal(), Signal()
        m.d.comb += stall.eq(skid_valid)
        core_ok = below(main.core, K)
        dst_ready = Array(d.ready for d in dst)[main.core]
        done = Signal()                  # main's delivery leaves this cycle
        if fault == "ignore_full":       # formal suite only: push into a full FIFO (lost)
            m.d.comb += done.eq(main_valid)
        else:
            m.d.comb += done.eq(main_valid & (~core_ok | dst_ready))
        for k in range(K):
            m.d.comb += [
                dst[k].valid.eq(main_valid & (main.core == k)),
                dst[k].payload.eq(main.axon),
            ]
        with m.If(skid_valid):
            with m.If(done):
                m.d.sync += [main.eq(skid), skid_valid.eq(0)]
        with m.Elif(dq_valid & main_valid & ~done):
            m.d.sync += [skid.eq(dq), skid_valid.eq(1)]
        with m.Elif(dq_valid):
            m.d.sync += [main.eq(dq), main_valid.eq(1)]
        with m.Elif(done):
            m.d.sync += main_valid.eq(0)

        with m.If(r_index[1]):
            m.d.comb += [host.rdata[0:16].eq(idx.start), host.rdata[16:24].eq(idx.count)]
        with m.Elif(r_dest[1]):
            m.d.comb += [host.rdata[0:16].eq(dq.axon), host.rdata[16:24].eq(dq.core)]

        # -- status ------------------------------------------------------------------------
        empty = Cat(*(f.level == 0 for f in self._src_fifos + self._dst_fifos)).all()
        m.d.comb += self.idle.eq(empty & ~s1_valid & ~s1r_valid & ~busy & ~s2_valid &
                                 ~dq_valid & ~main_valid & ~skid_valid)

        total = Signal(len(self.events_routed) + 1)
        m.d.comb += total.eq(self.events_routed + sum(a.valid & a.ready for a in self.axons))
        top = (1 << len(self.events_routed)) - 1
        m.d.sync += self.events_routed.eq(Mux(total > top, top, total))
        return m
