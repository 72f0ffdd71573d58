"""rtl/trace.py KernelTrace: trace = sum_k K[k] * hist[k] (docs/spec.md section 3, step 4).

Timing (module docstring): ``trace`` is TRACE_LATENCY cycles after
``hist``/``kernel``.  The cases are streamed, a new ``hist``/``kernel`` every
cycle, each trace checked that many cycles later.
"""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtl_sim import run, stream
from sal_hw.rtl.trace import TRACE_LATENCY, KernelTrace, trace_width


def spec_trace(hist, kernel):
    """X = sum_{k=1..H} K[k] * hist[k]; bit k-1 of the word is hist[k], kernel[k-1] is K[k]."""
    return sum(kernel[k - 1] for k in range(1, len(kernel) + 1) if hist >> (k - 1) & 1)


def check_cases(history, kernel_bits, cases):
    dut = KernelTrace(history, kernel_bits)
    got = []

    async def bench(ctx):
        def drive(case, memo):
            if case is not None:
                hist, kernel = case
                ctx.set(dut.kernel, kernel)
                ctx.set(dut.hist, hist)

        def sample(case, memo):
            if case is not None:
                got.append(ctx.get(dut.trace))

        await stream(ctx, cases, [(0, drive), (TRACE_LATENCY, sample)])

    run(dut, bench)
    assert len(got) == len(cases)
    for (hist, kernel), g in zip(cases, got):
        assert g == spec_trace(hist, kernel), f"hist {hist:#x} kernel {kernel}"


@pytest.mark.parametrize("history,kernel_bits", [(2, 2), (3, 8), (8, 8), (13, 5), (16, 8),
                                                 (64, 8), (64, 16), (128, 16)])
def test_random_and_extreme(history, kernel_bits):
    rng = random.Random(history * 100 + kernel_bits)
    kmax = (1 << kernel_bits) - 1
    hmask = (1 << history) - 1
    full = [kmax] * history
    cases = [
        (hmask, full),                     # the largest trace: must not overflow
        (0, full),
        (hmask, [0] * history),
        (hmask, [rng.randrange(kmax + 1) for _ in range(history)]),
        (1 << (history - 1), full),        # the oldest tap alone
    ]
    # Each bit alone selects exactly its own tap (catches reversed or shifted taps).
    ramp = [(k * 37 + 1) % (kmax + 1) for k in range(history)]
    cases += [(1 << k, ramp) for k in range(history)]
    cases += [(rng.getrandbits(history), [rng.randrange(kmax + 1) for _ in range(history)])
              for _ in range(200)]
    assert spec_trace(hmask, full) < (1 << trace_width(history, kernel_bits))
    check_cases(history, kernel_bits, cases)


def test_width_holds_the_largest_trace():
    for history in range(1, 129):
        for kernel_bits in (2, 8, 16):
            assert history * ((1 << kernel_bits) - 1) < (1 << trace_width(history, kernel_bits))


@settings(max_examples=30)
@given(st.data())
def test_property(data):
    history = data.draw(st.integers(2, 64), label="history")
    kernel_bits = data.draw(st.integers(2, 16), label="kernel_bits")
    kernel = data.draw(st.lists(st.integers(0, (1 << kernel_bits) - 1),
                                min_size=history, max_size=history), label="kernel")
    hists = data.draw(st.lists(st.integers(0, (1 << history) - 1), min_size=1, max_size=8),
                      label="hists")
    check_cases(history, kernel_bits, [(h, kernel) for h in hists])
