# amaranth: UnusedElaboratable=no
"""rtl/inject.py InjectQueue against a Python reference queue.

The reference is a list of (step, core, axon) in arrival order.  A push
appends; a scan for step S must deliver exactly the events with step S, in
arrival order, and leave the others in arrival order (so every later scan
checks what the earlier ones left).  Checked cycle by cycle: ``push.ready``
exactly when not full and not busy, ``pending``, ``out.valid`` only while
busy, ``injected``, and the scan's length (P + 2 cycles for P >= 1 events:
one per event after three of pipeline fill; one cycle for an empty queue;
plus one per stalled delivery); every scan runs under a watchdog.
"""

import random

import pytest
from amaranth.back import verilog
from amaranth.hdl import Shape

from rtl_sim import run
from sal_hw.rtl.inject import InjectQueue, delivery_layout, inject_event_layout


def watchdog_limit(depth):
    return 4 * depth + 100


class Bench:
    """Drives one InjectQueue and keeps the reference queue next to it."""

    def __init__(self, ctx, dut, rng=None):
        self.ctx, self.dut, self.rng = ctx, dut, rng or random.Random(0)
        self.model = []          # (step, core, axon), arrival order
        self.injected = 0
        self.top = (1 << len(dut.injected)) - 1

    def check_idle(self):
        ctx, dut = self.ctx, self.dut
        assert ctx.get(dut.busy) == 0
        assert ctx.get(dut.out.valid) == 0
        assert ctx.get(dut.pending) == len(self.model)
        assert ctx.get(dut.push.ready) == (len(self.model) != dut.depth)
        assert ctx.get(dut.injected) == min(self.injected, self.top)

    async def idle(self, cycles=1):
        for _ in range(cycles):
            self.check_idle()
            await self.ctx.tick()

    async def push(self, event):
        """Offer ``event`` for one cycle; returns whether it was taken."""
        ctx, dut = self.ctx, self.dut
        self.check_idle()
        step, core, axon = event
        ctx.set(dut.push.valid, 1)
        ctx.set(dut.push.payload, {"step": step, "core": core, "axon": axon})
        taken = ctx.get(dut.push.ready)
        await ctx.tick()
        ctx.set(dut.push.valid, 0)
        if taken:
            self.model.append(event)
        return bool(taken)

    async def scan(self, step, p_stall=0.0, push_with_start=None, restart_step=None):
        """A scan for ``step``; returns the deliveries [(core, axon)] in order.

        ``push_with_start``: an event offered in the start cycle (it must take
        part in the scan).  ``restart_step``: pulse ``start`` again during the
        scan with this step (must be ignored).
        """
        ctx, dut, rng = self.ctx, self.dut, self.rng
        self.check_idle()
        ctx.set(dut.start, 1)
        ctx.set(dut.step, step)
        if push_with_start is not None:
            s, c, a = push_with_start
            ctx.set(dut.push.valid, 1)
            ctx.set(dut.push.payload, {"step": s, "core": c, "axon": a})
            if ctx.get(dut.push.ready):
                self.model.append(push_with_start)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.push.valid, 0)
        ctx.set(dut.step, rng.randrange(1 << 32))    # sampled only in the start cycle

        expect = [(c, a) for s, c, a in self.model if s == step]
        remain = [e for e in self.model if e[0] != step]
        got = []
        busy_cycles = stalls = 0
        restart_at = rng.randrange(max(len(self.model), 1)) if restart_step is not None else -1
        while ctx.get(dut.busy):
            busy_cycles += 1
            assert busy_cycles <= watchdog_limit(dut.depth), "scan did not end"
            assert ctx.get(dut.push.ready) == 0
            assert ctx.get(dut.pending) == len(self.model)
            assert ctx.get(dut.injected) == min(self.injected, self.top)
            ready = rng.random() >= p_stall
            ctx.set(dut.out.ready, ready)
            ctx.set(dut.start, busy_cycles - 1 == restart_at)
            if restart_step is not None:
                ctx.set(dut.step, restart_step)
            if ctx.get(dut.out.valid):
                if ready:
                    p = ctx.get(dut.out.payload)
                    got.append((int(p.core), int(p.axon)))
                    self.injected += 1
                else:
                    stalls += 1
            await ctx.tick()
            ctx.set(dut.start, 0)
        ctx.set(dut.out.ready, 0)
        assert busy_cycles >= 1
        assert got == expect
        assert busy_cycles == (len(self.model) + 2 if self.model else 1) + stalls
        self.model = remain
        self.check_idle()
        return got


def random_event(rng, K, A, steps):
    return (rng.choice(steps), rng.randrange(K), rng.randrange(A))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("K, A, depth", [(1, 16, 8), (3, 32, 37), (4, 256, 256)],
                         ids=["K1-A16-D8", "K3-A32-D37", "K4-A256-D256"])
def test_random_against_reference(K, A, depth, seed):
    rng = random.Random(seed * 1000 + depth)
    dut = InjectQueue(K, A, depth)
    base = rng.choice([0, 12345, (1 << 32) - 8])
    # a small window so scans match, plus steps that differ from it only in high bits
    steps = [base + d for d in range(5)] + [(base + (1 << 20)) % (1 << 32),
                                            (base ^ (1 << 31))]
    scans = {8: 60, 37: 40, 256: 25}[depth]
    stats = {"delivered": 0, "full": 0, "backpressured": 0}

    async def bench(ctx):
        b = Bench(ctx, dut, rng)
        for n in range(scans):
            # pushes: a burst (sometimes past full), with idle gaps, hot repeats
            for _ in range(rng.randint(0, depth + 2)):
                if rng.random() < 0.2:
                    await b.idle(rng.randint(1, 2))
                if b.model and rng.random() < 0.2:
                    event = rng.choice(b.model)       # an exact repeat
                else:
                    event = random_event(rng, K, A, steps)
                if not await b.push(event):
                    stats["full"] += 1
            p_stall = [0.0, 0.3, 0.3, 0.8][n % 4]
            # mostly a step that is queued, sometimes any step of the window
            step = rng.choice(b.model)[0] if b.model and rng.random() < 0.7 else \
                rng.choice(steps)
            before = stats["delivered"]
            stats["delivered"] += len(await b.scan(
                step, p_stall,
                push_with_start=random_event(rng, K, A, steps) if rng.random() < 0.3 else None,
                restart_step=rng.choice(steps) if rng.random() < 0.3 else None))
            if p_stall and stats["delivered"] > before:
                stats["backpressured"] += 1
            if rng.random() < 0.3:
                await b.idle(rng.randint(1, 3))
        # drain: every step of the window, then the queue must be empty
        for step in steps:
            await b.scan(step, 0.3)
        assert b.model == []

    run(dut, bench)
    assert stats["delivered"] > scans, stats
    assert stats["full"] > 0
    assert stats["backpressured"] > 0


def test_full_queue_and_ready():
    K, A, depth = 2, 8, 5
    dut = InjectQueue(K, A, depth)

    async def bench(ctx):
        b = Bench(ctx, dut)
        assert ctx.get(dut.push.ready) == 1
        for i in range(depth):
            assert await b.push((7 + i % 2, i % K, i))
        assert ctx.get(dut.pending) == depth
        assert ctx.get(dut.push.ready) == 0
        # offered while full: not taken, for several cycles
        for _ in range(3):
            assert not await b.push((7, 1, 1))
        assert ctx.get(dut.pending) == depth
        # a scan with nothing to deliver keeps the queue full and in order
        assert await b.scan(99) == []
        assert ctx.get(dut.push.ready) == 0
        # step 8: slots 1 and 3 leave, room for two
        assert await b.scan(8, 0.5) == [(1, 1), (1, 3)]
        assert ctx.get(dut.pending) == 3 and ctx.get(dut.push.ready) == 1
        assert await b.push((8, 0, 6))
        assert await b.push((7, 1, 7))
        assert not await b.push((7, 0, 0))
        assert await b.scan(7) == [(0, 0), (0, 2), (0, 4), (1, 7)]
        assert await b.scan(8) == [(0, 6)]
        assert ctx.get(dut.pending) == 0

    run(dut, bench)


def test_empty_scan_busy_one_cycle():
    dut = InjectQueue(1, 4, 4)

    async def bench(ctx):
        b = Bench(ctx, dut)
        await b.idle(2)
        ctx.set(dut.out.ready, 1)
        ctx.set(dut.step, 0)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        assert ctx.get(dut.busy) == 1 and ctx.get(dut.out.valid) == 0
        assert ctx.get(dut.push.ready) == 0
        await ctx.tick()
        assert ctx.get(dut.busy) == 0
        for _ in range(5):
            assert ctx.get(dut.busy) == 0 and ctx.get(dut.out.valid) == 0
            await ctx.tick()
        # same through the helper, which also counts the cycles
        assert await b.scan(0) == []
        assert await b.scan((1 << 32) - 1) == []

    run(dut, bench)


def test_push_in_start_cycle_takes_part():
    """An event accepted in the start cycle is in the scan (transparent read of slot 0)."""
    dut = InjectQueue(2, 4, 3)

    async def bench(ctx):
        b = Bench(ctx, dut)
        assert await b.scan(5, push_with_start=(5, 1, 3)) == [(1, 3)]
        assert await b.scan(5, push_with_start=(6, 0, 2)) == []
        assert await b.scan(6, push_with_start=(6, 1, 1)) == [(0, 2), (1, 1)]
        assert await b.push((4, 0, 0))
        assert await b.push((4, 0, 1))
        # full after the start-cycle push; the scan sees all three
        assert await b.scan(4, push_with_start=(4, 1, 2)) == [(0, 0), (0, 1), (1, 2)]

    run(dut, bench)


def test_start_while_busy_ignored():
    dut = InjectQueue(1, 16, 16)

    async def bench(ctx):
        b = Bench(ctx, dut)
        for a in range(10):
            assert await b.push((3 if a % 2 else 4, 0, a))
        ctx.set(dut.out.ready, 1)
        ctx.set(dut.step, 3)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.step, 4)             # held high: restarts every cycle of the scan
        got, cycles = [], 0
        while ctx.get(dut.busy):
            cycles += 1
            assert cycles <= watchdog_limit(16)
            if ctx.get(dut.out.valid):
                got.append(ctx.get(dut.out.payload).axon)
            await ctx.tick()
        assert got == [1, 3, 5, 7, 9]
        assert cycles == 10 + 2
        # start is still high in the first cycle with busy low: that one is taken
        await ctx.tick()
        ctx.set(dut.start, 0)
        assert ctx.get(dut.busy) == 1
        while ctx.get(dut.busy):
            if ctx.get(dut.out.valid):
                got.append(ctx.get(dut.out.payload).axon)
            await ctx.tick()
        assert got == [1, 3, 5, 7, 9, 0, 2, 4, 6, 8]
        assert ctx.get(dut.pending) == 0

    run(dut, bench)


def test_injected_counts_and_saturates():
    dut = InjectQueue(2, 4, 6, count_bits=4)

    async def bench(ctx):
        b = Bench(ctx, dut, random.Random(5))
        for round_ in range(5):
            for i in range(6):
                assert await b.push((round_, i % 2, i % 4))
            await b.scan(round_ + 100)                 # nothing: no count
            assert ctx.get(dut.injected) == min(6 * round_, 15)
            await b.scan(round_, 0.4)                  # checks injected every cycle
            assert ctx.get(dut.injected) == min(6 * (round_ + 1), 15)
        assert ctx.get(dut.injected) == 15

    run(dut, bench)


def test_layouts():
    assert inject_event_layout(1, 1).size == 32 + 1 + 1
    ev = inject_event_layout(3, 32)
    assert ev.size == 32 + 2 + 5 and ev["step"].offset == 0
    assert ev["core"].offset == 32 and ev["axon"].offset == 34
    assert inject_event_layout(255, 1 << 16).size == 32 + 8 + 16
    assert delivery_layout(4, 256).size == 2 + 8
    assert Shape.cast(delivery_layout(5, 257)["axon"].shape).width == 9


@pytest.mark.parametrize("kwargs, name", [
    (dict(cores=0, axons=4, depth=4), "cores"),
    (dict(cores=256, axons=4, depth=4), "cores"),
    (dict(cores=1.0, axons=4, depth=4), "cores"),
    (dict(cores=1, axons=0, depth=4), "axons"),
    (dict(cores=1, axons=(1 << 16) + 1, depth=4), "axons"),
    (dict(cores=1, axons=4, depth=0), "depth"),
    (dict(cores=1, axons=4, depth=1 << 16), "depth"),
    (dict(cores=1, axons=4, depth=True), "depth"),
    (dict(cores=1, axons=4, depth=4, count_bits=0), "count_bits"),
])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must be an integer from"):
        InjectQueue(**kwargs)


def test_parameter_extremes_accepted():
    q = InjectQueue(255, 1 << 16, (1 << 16) - 1)
    assert len(q.pending) == 16 and len(q.injected) == 32


@pytest.mark.parametrize("args", [(1, 1, 1), (3, 32, 37), (4, 256, 256)],
                         ids=["K1-A1-D1", "K3-A32-D37", "K4-A256-D256"])
def test_converts_to_verilog(args):
    text = verilog.convert(InjectQueue(*args), name="inject", emit_src=False)
    assert "module inject(" in text and "injected" in text


def test_depth_one():
    dut = InjectQueue(1, 1, 1)

    async def bench(ctx):
        b = Bench(ctx, dut, random.Random(9))
        for n in range(30):
            await b.push((n % 3, 0, 0))
            await b.push((n % 3, 0, 0))                # full: refused
            await b.scan(n % 2, 0.5, push_with_start=(1, 0, 0) if n % 5 == 0 else None)
        for s in range(3):
            await b.scan(s)
        assert b.model == []

    run(dut, bench)
