# amaranth: UnusedElaboratable=no
"""rtl/router.py SpikeRouter against a Python scoreboard built from the routing table.

Model: every event ``(c, n)`` accepted on ``spikes[c]`` owes the deliveries
``(core_e, axon_e)`` for e = start .. start + count - 1 of ROUTE_INDEX[c * N + n].
The scoreboard checks, cycle by cycle and at the end:

- per destination core, the delivered axons are exactly the owed multiset
  (nothing lost, nothing duplicated, nothing invented);
- per source, events leave the source FIFO in acceptance order (white box:
  the FIFO's pops), and per destination core, the delivered sequence is
  exactly the entries of the popped events in pop order and entry order
  (the arbiter's choice is the router's only freedom; together these give
  per-source order end to end);
- ``idle`` is high only when every owed delivery has been made, and goes
  high within a few cycles once the last one is made;
- ``events_routed`` equals the deliveries made so far;
- ``spikes[c].ready`` is low only while source FIFO c is full.

Traffic: random tables (fan-out 0..8, overlapping ranges, the own core
among the targets, several sources sharing one hot axon), bursts in which
every neuron of every core spikes, random backpressure on every output
(always ready, mostly ready, mostly stalled, long stalls).
"""

import random
from collections import Counter

import pytest
from amaranth.back import verilog

from rtl_sim import run
from sal_hw.rtl.router import SpikeRouter, Table

MAX_FANOUT = 8


def random_tables(rng, K, N, A, D):
    """ROUTE_INDEX as [(start, count)] (index c * N + n), ROUTE_DEST as [(axon, core)]."""
    hot = (rng.randrange(K), rng.randrange(A))   # an axon many sources reach
    dest = []
    for _ in range(D):
        if rng.random() < 0.15:
            dest.append((hot[1], hot[0]))
        else:
            dest.append((rng.randrange(A), rng.randrange(K)))
    index = []
    for c in range(K):
        for n in range(N):
            r = rng.random()
            if r < 0.1:
                count = 0
            elif r < 0.2:
                count = MAX_FANOUT
            else:
                count = rng.randint(1, MAX_FANOUT)
            start = rng.randrange(D - count + 1)
            index.append((start, count))
        # the own core among the targets of neuron 0
        start, count = index[c * N]
        if count and all(dest[start + i][1] != c for i in range(count)):
            dest[start] = (dest[start][0], c)
    # two neurons with the same range
    if K * N > 1:
        index[-1] = index[0]
    return index, dest


async def write_tables(ctx, dut, index, dest):
    ctx.set(dut.host.we, 1)
    for table, words in ((Table.INDEX, [s | c << 16 for s, c in index]),
                         (Table.DEST, [a | c << 16 for a, c in dest])):
        ctx.set(dut.host.table, table)
        for addr, word in enumerate(words):
            ctx.set(dut.host.addr, addr)
            ctx.set(dut.host.wdata, word)
            await ctx.tick()
    ctx.set(dut.host.we, 0)


class Scoreboard:
    """Expected deliveries of the accepted events.

    The arbiter's choice of source is the only freedom the router has, so the
    scoreboard watches the source FIFOs' pops (white box): the events of each
    source must leave its FIFO in acceptance order, and each destination's
    deliveries must be exactly the entries of the popped events, in pop order
    and entry order.  Independently of that, every destination's deliveries
    must be the multiset the accepted events owe (black box).
    """

    def __init__(self, K, N, index, dest):
        self.K, self.N = K, N
        self.index, self.dest = index, dest
        self.accepted = [[] for _ in range(K)]      # [src] neurons in acceptance order
        self.popped = [0] * K
        self.predicted = [[] for _ in range(K)]     # [dst] axons in pop order
        self.owed = [Counter() for _ in range(K)]   # [dst] multiset from accepted events
        self.delivered = [[] for _ in range(K)]     # [dst] axons
        self.owed_total = 0
        self.delivered_total = 0

    def entries(self, c, n):
        start, count = self.index[c * self.N + n]
        return [self.dest[e] for e in range(start, start + count)]

    def accept(self, c, n):
        self.accepted[c].append(n)
        for axon, core in self.entries(c, n):
            self.owed[core][axon] += 1
            self.owed_total += 1

    def pop(self, c, n, when):
        i = self.popped[c]
        assert i < len(self.accepted[c]), f"cycle {when}: source {c} popped more than accepted"
        assert n == self.accepted[c][i], (f"cycle {when}: source {c} event {i} left its FIFO "
                                          f"as neuron {n}, accepted as {self.accepted[c][i]}")
        self.popped[c] += 1
        for axon, core in self.entries(c, n):
            self.predicted[core].append(axon)

    def deliver(self, d, axon, when):
        i = len(self.delivered[d])
        assert i < len(self.predicted[d]), f"cycle {when}: core {d} got an extra delivery"
        assert axon == self.predicted[d][i], (f"cycle {when}: core {d} delivery {i} is axon "
                                              f"{axon}, expected {self.predicted[d][i]}")
        self.delivered[d].append(axon)
        self.delivered_total += 1

    def check(self):
        for d in range(self.K):
            assert Counter(self.delivered[d]) == self.owed[d], f"core {d}: multisets differ"
        assert self.popped == [len(a) for a in self.accepted]


def simulate(K, N, A, D, F, *, seed, bursts, stall_phases, extra_events=0, fault=None):
    """Random tables, ``bursts`` of every neuron of every core (some with gaps), then
    ``extra_events`` random single events; backpressure cycles through ``stall_phases``
    (probability that an output is ready, or "long" for long stalls)."""
    rng = random.Random(seed)
    index, dest = random_tables(rng, K, N, A, D)
    dut = SpikeRouter(K, N, A, D, F, _fault=fault)
    sb = Scoreboard(K, N, index, dest)
    stats = {"cycles": 0, "deliveries": 0, "events": 0}

    # Per source: a list of bursts, each a list of neurons (None = a gap cycle).
    programs = [[] for _ in range(K)]
    for b in range(bursts):
        gaps = b % 3 == 1
        for c in range(K):
            order = list(range(N))
            rng.shuffle(order)
            if gaps:
                for _ in range(N // 2):
                    order.insert(rng.randrange(len(order) + 1), None)
            programs[c].append(order)
    if extra_events:
        for c in range(K):
            programs[c].append([rng.choice([None, None, rng.randrange(N)])
                                for _ in range(extra_events // K * 3)])

    def pops(ctx):
        return [(c, ctx.get(f.r.payload)) for c, f in enumerate(dut._src_fifos)
                if ctx.get(f.r.valid) and ctx.get(f.r.ready)]

    def deliveries(ctx):
        return [(d, ctx.get(dut.axons[d].payload)) for d in range(K)
                if ctx.get(dut.axons[d].valid) and ctx.get(dut.axons[d].ready)]

    async def bench(ctx):
        await write_tables(ctx, dut, index, dest)
        # The host port reads back what it wrote.
        for table, words in ((Table.INDEX, index), (Table.DEST, dest)):
            ctx.set(dut.host.table, table)
            for addr in rng.sample(range(len(words)), min(8, len(words))):
                ctx.set(dut.host.addr, addr)
                await ctx.tick()
                await ctx.tick()
                await ctx.tick()                # rdata three cycles after the read
                lo, hi = words[addr]
                assert ctx.get(dut.host.rdata) == lo | hi << 16
        assert ctx.get(dut.idle) == 1
        phase = 0
        for b in range(len(programs[0])):
            queues = [list(programs[c][b]) for c in range(K)]
            wait_idle = rng.random() < 0.5      # a timestep barrier after this burst
            p_ready = stall_phases[phase % len(stall_phases)]
            phase += 1
            cycles_idle_pending = 0
            long_stall = [0] * K
            while True:
                sources_done = all(not q for q in queues)
                sending = [False] * K
                for c in range(K):
                    q = queues[c]
                    if q and q[0] is None:      # a gap cycle
                        q.pop(0)
                    else:
                        sending[c] = bool(q)
                    ctx.set(dut.spikes[c].valid, sending[c])
                    ctx.set(dut.spikes[c].payload, q[0] if sending[c] else 0)
                for d in range(K):
                    if p_ready == "long":
                        if long_stall[d] == 0 and rng.random() < 0.02:
                            long_stall[d] = rng.randint(20, 120)
                        ready = long_stall[d] == 0 and rng.random() < 0.9
                        long_stall[d] = max(long_stall[d] - 1, 0)
                    else:
                        ready = rng.random() < p_ready
                    ctx.set(dut.axons[d].ready, ready)
                # Sample this cycle's handshakes and status (comb settled).
                for c in range(K):
                    if not ctx.get(dut.spikes[c].ready):
                        assert ctx.get(dut._src_fifos[c].level) == F, \
                            f"spikes[{c}].ready low while its FIFO is not full"
                assert ctx.get(dut.events_routed) == sb.delivered_total
                idle = ctx.get(dut.idle)
                if idle:
                    assert sb.delivered_total == sb.owed_total, \
                        f"idle with {sb.owed_total - sb.delivered_total} deliveries owed"
                took = [(c, queues[c][0]) for c in range(K)
                        if sending[c] and ctx.get(dut.spikes[c].ready)]
                popped = pops(ctx)
                gave = deliveries(ctx)
                await ctx.tick()
                stats["cycles"] += 1
                for c, n in took:
                    queues[c].pop(0)
                    sb.accept(c, n)
                    stats["events"] += 1
                for c, n in popped:
                    sb.pop(c, n, stats["cycles"])
                for d, axon in gave:
                    sb.deliver(d, axon, stats["cycles"])
                if not sources_done:
                    continue
                if not wait_idle:
                    break
                if idle:
                    break
                if sb.delivered_total == sb.owed_total:
                    # events without deliveries may still be queued: one cycle each
                    cycles_idle_pending += 1
                    assert cycles_idle_pending <= K * (F + 1) + 4, \
                        "everything delivered but not idle"
                assert stats["cycles"] < 2_000_000
        # Drain with random backpressure.
        for c in range(K):
            ctx.set(dut.spikes[c].valid, 0)
        after = 0
        while not ctx.get(dut.idle):
            for d in range(K):
                ctx.set(dut.axons[d].ready, rng.random() < 0.7)
            popped = pops(ctx)
            gave = deliveries(ctx)
            await ctx.tick()
            stats["cycles"] += 1
            for c, n in popped:
                sb.pop(c, n, stats["cycles"])
            for d, axon in gave:
                sb.deliver(d, axon, stats["cycles"])
            after += 1
            assert after < 100_000, "the router does not drain"
        assert sb.delivered_total == sb.owed_total
        assert ctx.get(dut.events_routed) == sb.delivered_total
        for d in range(K):
            assert not ctx.get(dut.axons[d].valid)

    run(dut, bench)
    sb.check()
    stats["deliveries"] = sb.delivered_total
    return stats


@pytest.mark.parametrize("K, N, A, D, F, bursts, extra", [
    (1, 16, 16, 64, 4, 40, 2000),
    (2, 16, 16, 96, 4, 30, 2000),
    (4, 8, 8, 96, 2, 30, 2000),
    (8, 4, 8, 96, 4, 30, 2000),
    (3, 5, 6, 40, 1, 20, 1000),     # non-power-of-two sizes, depth-1 FIFOs
], ids=["K1", "K2", "K4", "K8", "K3-F1"])
def test_random_traffic(K, N, A, D, F, bursts, extra):
    stats = simulate(K, N, A, D, F, seed=K * 1000 + F, bursts=bursts, extra_events=extra,
                     stall_phases=[1.0, 0.7, 0.2, "long", 0.5])
    assert stats["events"] >= bursts * K * N
    assert stats["deliveries"] > 3000


@pytest.mark.parametrize("fault", ["drop_on_stall", "ignore_full"])
def test_scoreboard_catches_lost_events(fault):
    """The checks above can fail: routers that lose events under backpressure are caught."""
    with pytest.raises(AssertionError):
        simulate(2, 8, 8, 32, 2, seed=1, bursts=4, stall_phases=[0.3], fault=fault)


def test_idle_bound_and_latency():
    """One event with fan-out 3, outputs ready: first delivery valid 7 cycles after the
    handshake (rtl/router.py, "Latency"), then one per cycle, idle right after the last."""
    K, N, A, D = 2, 2, 4, 8
    dut = SpikeRouter(K, N, A, D, 2)
    index = [(0, 3), (3, 0), (4, 1), (5, 3)]
    dest = [(1, 0), (2, 1), (3, 0), (0, 0), (2, 1), (0, 0), (1, 1), (2, 0)]

    async def bench(ctx):
        await write_tables(ctx, dut, index, dest)
        for d in range(K):
            ctx.set(dut.axons[d].ready, 1)
        ctx.set(dut.spikes[0].valid, 1)
        ctx.set(dut.spikes[0].payload, 0)
        assert ctx.get(dut.spikes[0].ready)
        await ctx.tick()
        ctx.set(dut.spikes[0].valid, 0)
        seen = []
        for cycle in range(1, 13):
            for d in range(K):
                if ctx.get(dut.axons[d].valid):
                    seen.append((cycle, d, ctx.get(dut.axons[d].payload)))
            if cycle > 1 and ctx.get(dut.idle):
                break
            await ctx.tick()
        assert seen == [(7, 0, 1), (8, 1, 2), (9, 0, 3)]
        assert cycle == 10 and ctx.get(dut.events_routed) == 3

    run(dut, bench)


def test_back_to_back_one_delivery_per_cycle():
    """Events of several sources, outputs always ready: one delivery every cycle."""
    K, N, A, D = 4, 4, 8, 16
    dut = SpikeRouter(K, N, A, D, 4)
    index = [(c * 4 + n, 1 + (n % 2)) for c in range(K) for n in range(N)]
    dest = [(e % A, e % K) for e in range(D)]
    spikes = [[0, 1, 2, 3] for _ in range(K)]
    owed = sum(index[c * N + n][1] for c in range(K) for n in spikes[c])

    async def bench(ctx):
        await write_tables(ctx, dut, index, dest)
        for d in range(K):
            ctx.set(dut.axons[d].ready, 1)
        per_cycle = []
        for cycle in range(80):
            for c in range(K):
                ctx.set(dut.spikes[c].valid, bool(spikes[c]))
                ctx.set(dut.spikes[c].payload, spikes[c][0] if spikes[c] else 0)
            took = [c for c in range(K) if spikes[c] and ctx.get(dut.spikes[c].ready)]
            per_cycle.append(sum(ctx.get(dut.axons[d].valid) for d in range(K)))
            await ctx.tick()
            for c in took:
                spikes[c].pop(0)
        assert sum(per_cycle) == owed
        first = per_cycle.index(1)
        assert per_cycle[first:first + owed] == [1] * owed, per_cycle

    run(dut, bench)


def test_events_routed_saturates():
    K, N, A, D = 2, 2, 4, 4
    dut = SpikeRouter(K, N, A, D, 2, count_bits=3)
    index = [(0, 4)] * 4
    dest = [(0, 0), (1, 1), (2, 0), (3, 1)]

    async def bench(ctx):
        await write_tables(ctx, dut, index, dest)
        for d in range(K):
            ctx.set(dut.axons[d].ready, 1)
        counts = []
        for cycle in range(40):
            ctx.set(dut.spikes[0].valid, cycle < 3)
            counts.append(ctx.get(dut.events_routed))
            await ctx.tick()
        assert counts == sorted(counts) and counts[-1] == 7 and 4 in counts

    run(dut, bench)


def test_host_port():
    """Every word of both tables written and read back (the stored bits); outside addresses
    read 0."""
    K, N, A, D = 3, 3, 8, 10
    rng = random.Random(7)
    dut = SpikeRouter(K, N, A, D, 2)
    words = {Table.INDEX: [rng.randrange(1 << 24) for _ in range(K * N)],
             Table.DEST: [rng.randrange(1 << 24) for _ in range(D)]}
    # stored: start 4 bits (D = 10), count 8; axon 3 bits (A = 8), core 2 bits (K = 3)
    stored = {Table.INDEX: 0xFF000F, Table.DEST: 0x030007}

    async def bench(ctx):
        ctx.set(dut.host.we, 1)
        for table, ws in words.items():
            ctx.set(dut.host.table, table)
            for addr, w in enumerate(ws + [0xFFFFFF]):   # one past the end: ignored
                ctx.set(dut.host.addr, addr)
                ctx.set(dut.host.wdata, w)
                await ctx.tick()
        ctx.set(dut.host.we, 0)
        for table, ws in words.items():
            ctx.set(dut.host.table, table)
            for addr in range(len(ws) + 2):
                ctx.set(dut.host.addr, addr)
                await ctx.tick()
                await ctx.tick()
                await ctx.tick()                # rdata three cycles after the read
                want = ws[addr] & stored[table] if addr < len(ws) else 0
                assert ctx.get(dut.host.rdata) == want, (table, addr)
        # rdata is 0 three cycles after no read (a write)
        ctx.set(dut.host.addr, 0)
        ctx.set(dut.host.we, 1)
        await ctx.tick()
        ctx.set(dut.host.we, 0)
        await ctx.tick()
        await ctx.tick()
        assert ctx.get(dut.host.rdata) == 0
        ctx.set(dut.host.we, 0)

    run(dut, bench)


@pytest.mark.parametrize("kwargs, message", [
    (dict(cores=0), "cores must be an integer from 1 to 8, not 0"),
    (dict(cores=9), "cores must be an integer from 1 to 8, not 9"),
    (dict(neurons=0), "neurons must be a positive integer, not 0"),
    (dict(axons=1 << 17), "axons must be a positive integer up to 65536"),
    (dict(route_entries=0), "route_entries must be a positive integer up to 65536"),
    (dict(fifo_depth=0), "fifo_depth must be a positive integer, not 0"),
    (dict(cores=8, neurons=1 << 14), "cores \\* neurons must be at most 65536"),
])
def test_parameter_errors(kwargs, message):
    args = dict(cores=2, neurons=4, axons=4, route_entries=8, fifo_depth=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SpikeRouter(**args)


@pytest.mark.parametrize("args", [(1, 1, 1, 1, 1), (3, 5, 6, 40, 1), (8, 4, 8, 96, 4)],
                         ids=["K1-N1-A1", "K3", "K8"])
def test_converts_to_verilog(args):
    """Yosys takes every size, including 0-bit payloads (range(1))."""
    text = verilog.convert(SpikeRouter(*args), name="router", emit_src=False)
    assert "module router(" in text and "events_routed" in text
