"""Formal harness of rtl/router.py SpikeRouter: properties for SymbiYosys, written in Amaranth.

The router under proof is a small instance: ``K = 2`` cores, ``N = 2``
neurons, ``A = 4`` axons, ``D = 4`` route entries, ``F = 2``-deep FIFOs;
an event owes at most ``cmax`` deliveries.  The routing table is arbitrary:
the harness draws it with ``AnyConst`` (any legal table: ``count <= cmax``,
``start + count <= D``; overlapping ranges, an entry to the source's own
core and repeated destinations are all allowed), writes it through the host
port in the first ``K * N + D`` cycles (no spikes meanwhile), then lets the
solver drive every input each cycle: ``spikes[c].valid`` and its neuron
(valid need not be held), each output's ``ready`` (arbitrary, always high,
or fair: never low ``fair_run`` cycles in a row), and host reads of any
address (they must not disturb routing).  Reset is never asserted.

Properties (``Assert``; the message names them):

ready_iff_not_full
    ``spikes[c].ready`` is low exactly when source FIFO c is full.
events_routed
    ``events_routed`` equals the deliveries made.
arbiter_round_robin
    a source whose FIFO holds an event is served before any other source
    is served ``K`` times (no starvation at the arbiter).
no_phantom_pop, no_extra_push, one_push_per_cycle, idle_all_pushed
    a source FIFO never gives more events than it took; the router never
    pushes into the destination FIFOs more entries than the events it took
    from the source FIFOs owe; when ``idle``, it owes none.
fifo_order, entry_data, fifo_data, tagged_done_when_idle
    one tagged event: the solver picks the source and which of its accepted
    events (any one).  It must leave its source FIFO as that source's j-th
    pop when it was the j-th accepted, with its neuron (fifo_order); after
    the pushes still owed by the events popped before it, the next
    ``count`` pushes must be its entries ``start .. start + count - 1`` in
    order, each into the FIFO of its entry's core with its axon
    (entry_data); one of them (the solver picks which) must leave that
    FIFO after exactly the entries that were ahead of it, with its axon
    (fifo_data); and ``idle`` is never high while any of it is undelivered
    (tagged_done_when_idle).  As the tagged event is any event, nothing is
    lost, duplicated or altered, and per-source order holds end to end:
    source FIFO, arbiter, expander and destination FIFOs all keep it.
wait_bound (latency tasks)
    once accepted, the tagged event is fully delivered (each of its
    entries out of its destination FIFO) within ``bound`` cycles.

``fault`` builds the router with one of its ``_fault`` mutations (see
:class:`~sal_hw.rtl.router.SpikeRouter`), for the tasks that must fail.
"""

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cat, Const, Cover, Elaboratable, Module, Mux, \
    ResetSignal, Signal

from sal_hw.rtl.router import SpikeRouter, Table

__all__ = ["RouterHarness", "K", "N", "A", "D", "F"]

K, N, A, D, F = 2, 2, 4, 4, 2


class RouterHarness(Elaboratable):
    """The router and its properties.

    Parameters
    ----------
    checks : "safety" or "latency"
        Which assertions: the safety set above, or only ``wait_bound``.
    ready : "any", "always" or "fair"
        Outputs' ``ready``: arbitrary; always high; never low ``fair_run``
        cycles in a row.
    bound : int
        For ``checks="latency"``: the wait bound in cycles.
    cmax : int
        Largest ``count`` in the table (1 to 3).
    fault : str or None
        ``_fault`` of the router under proof.
    covers : bool
        Add the ``Cover`` statements (a full FIFO, wrap-arounds, a delivered
        tagged event) for the cover task.
    """

    def __init__(self, *, checks="safety", ready="any", bound=None, cmax=2, fair_run=3,
                 fault=None, covers=False):
        if checks not in ("safety", "latency"):
            raise ValueError(f"checks must be 'safety' or 'latency', not {checks!r}")
        if ready not in ("any", "always", "fair"):
            raise ValueError(f"ready must be 'any', 'always' or 'fair', not {ready!r}")
        if checks == "latency" and bound is None:
            raise ValueError("checks='latency' needs a bound")
        if not 1 <= cmax <= 3:
            raise ValueError(f"cmax must be 1 to 3, not {cmax!r}")
        self.checks = checks
        self.ready = ready
        self.bound = bound
        self.cmax = cmax
        self.fair_run = fair_run
        self.fault = fault
        self.covers = covers

    def elaborate(self, platform):
        m = Module()
        m.submodules.router = r = SpikeRouter(K, N, A, D, F, count_bits=8, _fault=self.fault)
        src_fifos, dst_fifos = r._src_fifos, r._dst_fifos
        m.d.comb += Assume(~ResetSignal())

        def safety(test, name):
            if self.checks == "safety":
                m.d.comb += Assert(test, name, src_loc_at=1)

        # -- the routing table: any legal one ------------------------------------------------
        start = [AnyConst(range(D)) for _ in range(K * N)]
        count = [AnyConst(2) for _ in range(K * N)]
        axon = [AnyConst(range(A)) for _ in range(D)]
        core = [AnyConst(range(K)) for _ in range(D)]
        for i in range(K * N):
            m.d.comb += Assume((count[i] <= self.cmax) & (start[i] + count[i] <= D))

        def lookup(field, k, n):          # field[k * N + n]; k, n an int or a Value
            res = Const(0, len(field[0]))
            for kk in range(K):
                for nn in range(N):
                    res = Mux((k == kk) & (n == nn), field[kk * N + nn], res)
            return res

        # -- preamble: the host writes the table ---------------------------------------------
        P = K * N + D
        step = Signal(range(P + 1))
        live = Signal()
        m.d.comb += live.eq(step == P)
        with m.If(~live):
            m.d.sync += step.eq(step + 1)
        with m.If(step < K * N):
            m.d.comb += [r.host.table.eq(Table.INDEX), r.host.addr.eq(step), r.host.we.eq(1)]
            with m.Switch(step):
                for i in range(K * N):
                    with m.Case(i):
                        m.d.comb += r.host.wdata.eq(Cat(start[i], Const(0, 16 - len(start[i])),
                                                        count[i]))
        with m.Elif(~live):
            m.d.comb += [r.host.table.eq(Table.DEST), r.host.addr.eq(step - K * N),
                         r.host.we.eq(1)]
            with m.Switch(step - K * N):
                for e in range(D):
                    with m.Case(e):
                        m.d.comb += r.host.wdata.eq(Cat(axon[e], Const(0, 16 - len(axon[e])),
                                                        core[e]))
        with m.Else():                    # then: reads of any address
            m.d.comb += [r.host.table.eq(AnySeq(1)), r.host.addr.eq(AnySeq(16)),
                         r.host.we.eq(0)]

        # -- inputs driven by the solver -------------------------------------------------------
        for k in range(K):
            m.d.comb += [r.spikes[k].valid.eq(AnySeq(1) & live),
                         r.spikes[k].payload.eq(AnySeq(range(N)))]
            if self.ready == "always":
                m.d.comb += r.axons[k].ready.eq(1)
            else:
                m.d.comb += r.axons[k].ready.eq(AnySeq(1))
            if self.ready == "fair":
                low_run = Signal(range(self.fair_run + 1), name=f"low_run{k}")
                m.d.sync += low_run.eq(Mux(r.axons[k].ready, 0, low_run + 1))
                m.d.comb += Assume(r.axons[k].ready | (low_run < self.fair_run - 1))

        accept = [r.spikes[k].valid & r.spikes[k].ready for k in range(K)]
        deliver = [r.axons[k].valid & r.axons[k].ready for k in range(K)]
        pop = [f.r.valid & f.r.ready for f in src_fifos]
        push = [f.w.valid & f.w.ready for f in dst_fifos]

        # -- the input contract, the counter ---------------------------------------------------
        for k in range(K):
            safety(r.spikes[k].ready == (src_fifos[k].level != F), "ready_iff_not_full")
        delivered = Signal(8)
        m.d.sync += delivered.eq(delivered + sum(deliver))
        safety(r.events_routed == delivered, "events_routed")

        # -- the arbiter ---------------------------------------------------------------------
        for k in range(K):
            passed = Signal(range(K + 1), name=f"passed{k}")   # others served while k waits
            others = sum(pop[j] for j in range(K) if j != k)
            with m.If(pop[k] | ~src_fifos[k].r.valid):
                m.d.sync += passed.eq(0)
            with m.Elif(passed != K):
                m.d.sync += passed.eq(passed + others)
            safety(passed < K, "arbiter_round_robin")

        # -- pops and pushes -------------------------------------------------------------------
        CW = 6
        acc_cnt = [Signal(6, name=f"acc_cnt{k}") for k in range(K)]
        pop_cnt = [Signal(6, name=f"pop_cnt{k}") for k in range(K)]
        for k in range(K):
            m.d.sync += [acc_cnt[k].eq(acc_cnt[k] + accept[k]),
                         pop_cnt[k].eq(pop_cnt[k] + pop[k])]
            safety(~pop[k] | (pop_cnt[k] < acc_cnt[k]), "no_phantom_pop")
        safety(sum(push) <= 1, "one_push_per_cycle")

        pushes_owed = Signal(CW)          # pushes still owed by the popped events
        pop_adds = [Mux(pop[k], lookup(count, k, src_fifos[k].r.payload), 0) for k in range(K)]
        any_push = Cat(push).any()
        m.d.sync += pushes_owed.eq(pushes_owed + sum(pop_adds) - any_push)
        safety(~any_push | (pushes_owed != 0), "no_extra_push")
        safety(~r.idle | (pushes_owed == 0), "idle_all_pushed")
        pushed_core = Signal(range(K))
        pushed_axon = Signal(range(A))
        for k in range(K):
            with m.If(push[k]):
                m.d.comb += [pushed_core.eq(k), pushed_axon.eq(dst_fifos[k].w.payload)]

        # -- the tagged event ------------------------------------------------------------------
        t_src = AnyConst(range(K))
        tagged = Signal()
        t_n = Signal(range(N))
        t_seq = Signal(6)
        t_age = Signal(8)
        t_popped = Signal()
        t_ahead = Signal(CW)              # pushes owed by earlier events when it was popped
        t_idx = Signal(2)                 # its entries pushed so far
        t_start = Signal(len(start[0]))
        t_count = Signal(2)
        sel = AnyConst(2)                 # which of its entries is followed to the output
        sel_pend = Signal()
        sel_core = Signal(range(K))
        sel_axon = Signal(range(A))
        sel_pos = Signal(range(F + 1))
        last_pend = Signal(K)             # its last push into FIFO d is not delivered yet
        last_pos = [Signal(range(F + 1), name=f"last_pos{d}") for d in range(K)]

        t_accept = Signal()
        m.d.comb += t_accept.eq(~tagged & AnySeq(1) & Cat(accept).bit_select(t_src, 1))
        with m.If(t_accept):
            m.d.sync += [tagged.eq(1), t_seq.eq(Cat(*acc_cnt).word_select(t_src, 6)),
                         t_n.eq(Cat(*(r.spikes[k].payload for k in range(K)))
                                .word_select(t_src, len(t_n)))]
        with m.If(tagged):
            m.d.sync += t_age.eq(Mux(t_age == 255, 255, t_age + 1))

        t_pop = Signal()
        m.d.comb += t_pop.eq(tagged & ~t_popped & Cat(pop).bit_select(t_src, 1) &
                             (Cat(*pop_cnt).word_select(t_src, 6) == t_seq))
        popped_n = Cat(*(f.r.payload for f in src_fifos)).word_select(t_src, len(t_n))
        with m.If(t_pop):
            safety(popped_n == t_n, "fifo_order")
            m.d.sync += [t_popped.eq(1), t_ahead.eq(pushes_owed - any_push),
                         t_start.eq(lookup(start, t_src, t_n)),
                         t_count.eq(lookup(count, t_src, t_n))]

        # Its pushes: after t_ahead others, its entries in order.
        mine = Signal()
        m.d.comb += mine.eq(t_popped & any_push & (t_ahead == 0) & (t_idx < t_count))
        with m.If(t_popped & any_push & (t_ahead != 0)):
            m.d.sync += t_ahead.eq(t_ahead - 1)
        e_now = Signal(range(D + 4))
        m.d.comb += e_now.eq(t_start + t_idx)
        want_core = Signal(range(K))
        want_axon = Signal(range(A))
        with m.Switch(e_now):
            for e in range(D):
                with m.Case(e):
                    m.d.comb += [want_core.eq(core[e]), want_axon.eq(axon[e])]
        with m.If(mine):
            safety((pushed_core == want_core) & (pushed_axon == want_axon), "entry_data")
            m.d.sync += t_idx.eq(t_idx + 1)

        # Through the destination FIFOs: entries ahead of it leave first.
        levels = Cat(*(f.level for f in dst_fifos))
        lw = len(dst_fifos[0].level)
        for d in range(K):
            with m.If(deliver[d] & last_pend[d]):
                with m.If(last_pos[d] == 0):
                    m.d.sync += last_pend[d].eq(0)
                with m.Else():
                    m.d.sync += last_pos[d].eq(last_pos[d] - 1)
            with m.If(mine & (pushed_core == d)):
                m.d.sync += [last_pend[d].eq(1), last_pos[d].eq(dst_fifos[d].level - deliver[d])]
        with m.If(sel_pend & Cat(deliver).bit_select(sel_core, 1)):
            with m.If(sel_pos == 0):
                safety(Cat(*(a.payload for a in r.axons)).word_select(sel_core, len(sel_axon))
                       == sel_axon, "fifo_data")
                m.d.sync += sel_pend.eq(0)
            with m.Else():
                m.d.sync += sel_pos.eq(sel_pos - 1)
        with m.If(mine & (t_idx == sel)):
            m.d.sync += [sel_pend.eq(1), sel_core.eq(pushed_core), sel_axon.eq(pushed_axon),
                         sel_pos.eq(levels.word_select(pushed_core, lw) -
                                    Cat(deliver).bit_select(pushed_core, 1))]

        t_done = Signal()
        m.d.comb += t_done.eq(t_popped & (t_idx == t_count) & ~last_pend.any() & ~sel_pend)
        safety(~r.idle | ~tagged | t_done, "tagged_done_when_idle")
        if self.checks == "latency":
            m.d.comb += Assert(~tagged | t_done | (t_age < self.bound), "wait_bound")

        if self.covers:
            pushes0 = Signal(3)
            m.d.sync += pushes0.eq(Mux(pushes0 == 7, 7, pushes0 + push[0]))
            m.d.comb += [
                Cover(src_fifos[0].level == F, "source FIFO full"),
                Cover((dst_fifos[1].level == F) & (acc_cnt[0] != 0) & (acc_cnt[1] != 0),
                      "destination FIFO full, events from both sources"),
                Cover((pushes0 > F) & r.idle, "destination FIFO wrapped, then idle"),
                Cover((acc_cnt[0] > F) & (acc_cnt[1] > F) & r.idle,
                      "both source FIFOs wrapped, then idle"),
                Cover(t_done & (t_count == self.cmax) & (t_seq != 0),
                      "a tagged event (not the first of its source) delivered"),
            ]
        return m
