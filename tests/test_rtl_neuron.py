"""rtl/neuron.py NeuronUnit: docs/spec.md section 3, steps 1-2 and the neuron half of step 5.

The unit's memories are loaded and read back through its ``access`` port
(read data two cycles after the address).  Neurons are streamed one per
cycle (``valid``, ``n``), bubbles included, as the core drives them: a
neuron entering in cycle c gets its synaptic input ``isyn`` in cycle c + 2
(stage 2, where the core's registered synaptic-input banks deliver it), its
post trace on ``y_*`` in cycle c + Y_LATENCY and its spike on ``spike_*`` in
cycle c + NEURON_LATENCY; in every other cycle ``y_valid`` and
``spike_valid`` are 0.  Expected values come from a Python transcription of
the spec:

    u = sat_{u_bits}(b + I);  x <- xorshift32(x)
    k = clip((u >> LUT_SHIFT) + 2^(lut_bits-1), 0, 2^lut_bits - 1);  p = LUT[k]
    s = (r == 0) and (x >> (32 - lut_width) < p or p == 2^lut_width - 1)
    r <- TAU_REF - 1 if s else max(r - 1, 0)
    hist <- (hist << 1) | s  (H bits);  count <- min(count + s, 2^32 - 1)
    Y = sum_k K[k] hist[k]   (post trace, history before the shift)
"""

import random

import pytest

from rtl_sim import access_read, access_write, run, sat, stream, to_bits
from sal_hw.golden.params import CoreParams
from sal_hw.golden.prng import xorshift32
from sal_hw.golden.spaces import Space
from sal_hw.rtl.neuron import NEURON_LATENCY, Y_LATENCY, NeuronUnit
from sal_hw.rtl.plasticity import SYN_INPUT_BITS

M32 = (1 << 32) - 1
ISYN_STAGE = 2      # cycles from ``valid`` to the one in which the unit takes I_n
SMALL = CoreParams(neurons=8, axons=8, history=8)
ODD = CoreParams(neurons=16, axons=8, history=16, lut_bits=4, lut_width=8, u_bits=12, u_frac=4,
                 bias_bits=10, kernel_bits=5)
IMIN, IMAX = -(1 << (SYN_INPUT_BITS - 1)), (1 << (SYN_INPUT_BITS - 1)) - 1

SPACES = [Space.BIAS, Space.SEED, Space.REFRACTORY, Space.NEURON_HIST, Space.SPIKE_COUNT]


def _inv_shl(y, s):
    x = y
    for _ in range(32 // s + 1):
        x = y ^ ((x << s) & M32)
    return x


def _inv_shr(y, s):
    x = y
    for _ in range(32 // s + 1):
        x = y ^ (x >> s)
    return x


def seed_giving(nxt):
    """The state whose xorshift32 successor is ``nxt``."""
    x = _inv_shl(_inv_shr(_inv_shl(nxt, 5), 17), 13)
    assert xorshift32(x) == nxt
    return x


class Model:
    """The spec's neuron state and step, in Python ints."""

    def __init__(self, p, bias, seed, refractory, hist, count, lut):
        self.p = p
        self.mem = {Space.BIAS: list(bias), Space.SEED: list(seed),
                    Space.REFRACTORY: list(refractory), Space.NEURON_HIST: list(hist),
                    Space.SPIKE_COUNT: list(count), Space.POTENTIAL: [0] * p.neurons}
        self.lut = list(lut)

    def neuron(self, n, isyn, tau_ref, lut_shift, kernel):
        p, m = self.p, self.mem
        H = p.history
        hist = m[Space.NEURON_HIST][n]
        y = sum(kernel[k - 1] for k in range(1, H + 1) if hist >> (k - 1) & 1)
        u = sat(m[Space.BIAS][n] + isyn, p.u_bits)
        x = xorshift32(m[Space.SEED][n])
        k = min(max((u >> lut_shift) + (1 << (p.lut_bits - 1)), 0), (1 << p.lut_bits) - 1)
        prob = self.lut[k]
        rand = x >> (32 - p.lut_width)
        r = m[Space.REFRACTORY][n]
        s = int(r == 0 and (rand < prob or prob == (1 << p.lut_width) - 1))
        m[Space.POTENTIAL][n] = u
        m[Space.SEED][n] = x
        m[Space.REFRACTORY][n] = tau_ref - 1 if s else max(r - 1, 0)
        m[Space.NEURON_HIST][n] = ((hist << 1) | s) & ((1 << H) - 1)
        m[Space.SPIKE_COUNT][n] = min(m[Space.SPIKE_COUNT][n] + s, M32)
        return y, s


def word_bits(p, space):
    return {Space.BIAS: p.bias_bits, Space.SEED: 32, Space.REFRACTORY: 8,
            Space.NEURON_HIST: p.history, Space.SPIKE_COUNT: 32, Space.POTENTIAL: p.u_bits,
            Space.LUT: p.lut_width}[space]


def simulate(p, model, steps, *, extra_checks=None):
    """Load ``model``'s state, run ``steps`` (dicts: schedule, isyn, tau_ref, lut_shift,
    kernel), compare every output and finally every memory word with the model."""
    dut = NeuronUnit(p)
    port = dut.access
    N = p.neurons
    failures = []

    async def load_and_check(ctx, write):
        for space in SPACES + [Space.POTENTIAL]:
            bits = word_bits(p, space)
            for n in range(N):
                if write and space != Space.POTENTIAL:
                    await access_write(ctx, port, space, n, to_bits(model.mem[space][n], bits))
                got = await access_read(ctx, port, space, n)
                want = to_bits(model.mem[space][n], bits)
                if got != want:
                    failures.append(f"{space.name}[{n}]: expected {want:#x}, got {got:#x}")
        for k, v in enumerate(model.lut):
            if write:
                await access_write(ctx, port, Space.LUT, k, v)
            got = await access_read(ctx, port, Space.LUT, k)
            if got != v:
                failures.append(f"LUT[{k}]: expected {v:#x}, got {got:#x}")

    async def bench(ctx):
        ctx.set(dut.valid, 0)
        await load_and_check(ctx, write=True)
        for t, step in enumerate(steps):
            ctx.set(dut.tau_ref, step["tau_ref"])
            ctx.set(dut.lut_shift, step["lut_shift"])
            ctx.set(dut.kernel, step["kernel"])
            expect = {}

            def enter(n, memo):
                ctx.set(dut.valid, n is not None)
                ctx.set(dut.n, 0 if n is None else n)

            def give_isyn(n, memo):
                ctx.set(dut.isyn, 0 if n is None else step["isyn"][n])
                if n is not None:
                    expect[n] = model.neuron(n, step["isyn"][n], step["tau_ref"],
                                             step["lut_shift"], step["kernel"])

            def check(what, valid, n_out, value, index):
                def action(n, memo):
                    got = (ctx.get(valid), ctx.get(n_out), ctx.get(value))
                    if n is None:
                        if got[0]:
                            failures.append(f"step {t}: {what}_valid without a neuron")
                    elif got != (1, n, expect[n][index]):
                        failures.append(f"step {t} neuron {n}: {what} (valid, n, value) "
                                        f"expected {(1, n, expect[n][index])}, got {got}")
                return action

            await stream(ctx, step["schedule"], [
                (0, enter), (ISYN_STAGE, give_isyn),
                (Y_LATENCY, check("y", dut.y_valid, dut.y_n, dut.y, 0)),
                (NEURON_LATENCY, check("spike", dut.spike_valid, dut.spike_n, dut.spike, 1))])
            if extra_checks:
                extra_checks(t, expect)
        await load_and_check(ctx, write=False)
        # Spaces the unit does not own read as 0.
        for space in (Space.CONFIG, Space.WEIGHT, Space.KERNEL, Space.AXON_HIST, Space.SPIKES):
            if (got := await access_read(ctx, port, space, 1)) != 0:
                failures.append(f"{space.name} read gave {got:#x}, not 0")

    run(dut, bench)
    assert not failures, "\n".join(failures[:12])


def random_state(p, rng):
    N, H = p.neurons, p.history
    blo, bhi = p.bias_range
    certain = (1 << p.lut_width) - 1
    lut = [rng.choice([0, certain, rng.randrange(certain + 1), rng.randrange(certain + 1)])
           for _ in range(p.lut_depth)]
    return Model(p,
                 bias=[rng.choice([blo, bhi, 0, rng.randint(blo, bhi)]) for _ in range(N)],
                 seed=[rng.choice([1, M32, rng.randrange(1, M32 + 1)]) for _ in range(N)],
                 refractory=[rng.choice([0, 0, 1, 2, 255]) for _ in range(N)],
                 hist=[rng.getrandbits(H) for _ in range(N)],
                 count=[rng.choice([0, M32, M32 - 1, rng.getrandbits(32)]) for _ in range(N)],
                 lut=lut)


def random_step(p, rng, tau_ref):
    N = p.neurons
    order = list(range(N))
    rng.shuffle(order)
    if rng.random() < 0.5:
        order.insert(rng.randrange(N), None)       # a bubble in the stream
    umax = 1 << (p.u_bits - 1)
    isyn = [rng.choice([IMIN, IMAX, 0, rng.randint(-umax, umax), rng.randint(-umax // 64, umax // 64),
                        rng.randint(IMIN, IMAX)]) for _ in range(N)]
    return dict(schedule=order, isyn=isyn, tau_ref=tau_ref,
                lut_shift=rng.choice([0, 1, p.u_bits - p.lut_bits, p.u_bits - 1,
                                      rng.randrange(p.u_bits)]),
                kernel=[rng.randrange(1 << p.kernel_bits) for _ in range(p.history)])


@pytest.mark.parametrize("p", [SMALL, ODD], ids=["small", "odd-widths"])
def test_random_steps(p):
    rng = random.Random(p.neurons + p.lut_bits)
    model = random_state(p, rng)
    steps = [random_step(p, rng, tau_ref) for tau_ref in (3, 1, 255, 2, 3, 1, 4, 3, 2, 1)]
    steps[0]["schedule"] = list(range(p.neurons))            # the core's order
    spikes = []
    simulate(p, model, steps, extra_checks=lambda t, e: spikes.extend(s for _, s in e.values()))
    assert 0 < sum(spikes) < len(spikes), "the random steps should mix spikes and silences"


def test_directed_fire_decisions():
    """Certain-fire code, strict ``rand < p``, refractory veto, count saturation, clipping."""
    p = SMALL
    N, H = p.neurons, p.history
    certain = (1 << p.lut_width) - 1
    top = seed_giving(M32)            # rand = all ones (== the certain code)
    bottom = seed_giving(1)           # rand = 0
    mid = seed_giving(0x12345678)     # rand = 0x1234
    lut = [0] * p.lut_depth
    lut[0] = certain                 # lowest bin (u clipped from below)
    lut[p.lut_depth - 1] = certain - 1   # highest bin (u clipped from above)
    lut[128] = 0x1234                # u = 0 at LUT_SHIFT 8
    lut[129] = 0x1235
    lut[127] = 1
    umin, umax = p.u_range
    #         seed    refr  count      isyn     expected spike
    cases = [(top,    0,    5,         IMIN,    1),   # certain code fires although rand == p
             (top,    0,    5,         IMAX,    0),   # certain - 1: rand == certain is not below
             (top,    1,    M32,       IMIN,    0),   # refractory vetoes even the certain code
             (bottom, 0,    M32,       IMIN,    1),   # count saturates at 2**32 - 1
             (bottom, 0,    M32 - 1,   -256,    1),   # p = 1 > rand = 0 (bin 127); count -> max
             (mid,    0,    0,         0,       0),   # rand == p: no spike
             (mid,    0,    0,         256,     1),   # rand < p = 0x1235
             (bottom, 2,    0,         0,       0)]   # p > rand, but refractory 2 -> 1
    model = Model(p, bias=[0] * N, seed=[c[0] for c in cases], refractory=[c[1] for c in cases],
                  hist=[0b1010_0101] * N, count=[c[2] for c in cases], lut=lut)
    step = dict(schedule=list(range(N)), isyn=[c[3] for c in cases], tau_ref=4, lut_shift=8,
                kernel=list(range(1, H + 1)))

    def check(t, expect):
        assert [expect[n][1] for n in range(N)] == [c[4] for c in cases], "model disagrees"

    simulate(p, model, [step], extra_checks=check)
    assert model.mem[Space.SPIKE_COUNT][3] == M32 and model.mem[Space.SPIKE_COUNT][4] == M32
    assert model.mem[Space.REFRACTORY][:3] == [3, 0, 0]
    assert model.mem[Space.POTENTIAL][0] == umin and model.mem[Space.POTENTIAL][1] == umax


def test_potential_saturates_both_ways():
    """u = sat(b + I): the extreme bias plus the extreme synaptic input."""
    p = SMALL
    N = p.neurons
    blo, bhi = p.bias_range
    umin, umax = p.u_range
    bias = [bhi, blo, bhi, blo, 0, 0, bhi, blo]
    isyn = [IMAX, IMIN, umax - bhi, umin - blo, umax + 1, umin - 1, umax - bhi + 1, umin - blo - 1]
    model = Model(p, bias=bias, seed=list(range(1, N + 1)), refractory=[0] * N, hist=[0] * N,
                  count=[0] * N, lut=[0] * p.lut_depth)
    step = dict(schedule=list(range(N)), isyn=isyn, tau_ref=1, lut_shift=0,
                kernel=[0] * p.history)
    simulate(p, model, [step])
    assert model.mem[Space.POTENTIAL] == [umax, umin, umax, umin, umax, umin, umax, umin]


def test_lut_index_when_lut_is_wider_than_potential():
    """CoreParams allows lut_bits up to 12 with u_bits down to 8; the index must still be exact."""
    p = CoreParams(neurons=8, axons=8, history=8, u_bits=8, u_frac=4, bias_bits=8, lut_bits=9)
    N = p.neurons
    lut = [0] * p.lut_depth
    lut[256] = p.lut_certain             # u = 0 at LUT_SHIFT 0: index 0 + 256
    lut[256 + 127] = p.lut_certain       # u = 127 (u_bits max): index 383
    lut[256 - 128] = p.lut_certain       # u = -128: index 128
    model = Model(p, bias=[0] * N, seed=list(range(1, N + 1)), refractory=[0] * N, hist=[0] * N,
                  count=[0] * N, lut=lut)
    isyn = [0, 127, -128, 0, 1000, -1000, 0, 0]
    step = dict(schedule=list(range(N)), isyn=isyn, tau_ref=1, lut_shift=0,
                kernel=[0] * p.history)

    def check(t, expect):
        assert [expect[n][1] for n in range(N)] == [1, 1, 1, 1, 1, 1, 1, 1]

    simulate(p, model, [step], extra_checks=check)
