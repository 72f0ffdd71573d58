"""Shared fixtures of the golden-model tests.

``core_image`` builds a :class:`~sal_hw.golden.quantize.CoreImage` from
scratch (no network, no quantize), so that the saturation and access tests
can set up cores whose every field they choose themselves.
"""

import os
import warnings

# The suite runs as two xdist workers on two cores: one BLAS thread each, or
# they oversubscribe the cores (measured: salnet tests 18 s -> 13 s).  Only
# effective if numpy is not imported yet, hence before the imports below.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from sal_hw.golden.quantize import CoreImage  # noqa: E402
from sal_hw.golden.spaces import Config  # noqa: E402

# No example database in the work tree, no per-example deadline (the first
# example of a test pays numpy's warm-up).
settings.register_profile("sal-hw", database=None, deadline=None, print_blob=True)
settings.load_profile("sal-hw")

# When a hypothesis test fails, its pytest plugin imports hypothesis.extra._patching,
# which imports libcst if installed; libcst trips a DeprecationWarning in
# mypy_extensions that pyproject's "error::DeprecationWarning" turns into an
# INTERNALERROR, hiding the real failure.  Import it once here, warnings off.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:   # libcst absent: the plugin then reports without patches
        pass


def make_image(p, *, config=None, weight=None, acc=None, rule_index=None, rules=None,
               bias=None, lut=None, kernel=None, seed=None):
    """A core image for params ``p``: all zero unless given, seeds 1..N, axon a fed by neuron a."""
    A, N, H = p.axons, p.neurons, p.history
    cfg = {Config.TAU_REF: 1, Config.TAU_SYN: 1, Config.LUT_SHIFT: 8,
           Config.APPLY_PERIOD: 0, Config.PHASE_COUNT: 0, Config.STEP_COUNT: 0,
           Config.APPLY_COUNT: 0}
    cfg.update(config or {})

    def arr(value, shape, dtype=np.int64):
        if value is None:
            return np.zeros(shape, dtype=dtype)
        return np.broadcast_to(np.asarray(value, dtype=dtype), shape).copy()

    rules = list(rules) if rules is not None else []
    rules += [(0, 0, 0, 0)] * (p.rules - len(rules))
    src = np.where(np.arange(A) < N, np.arange(A), -1)
    return CoreImage(
        params=p, config=cfg,
        weight=arr(weight, (A, N)), acc=arr(acc, (A, N)), rule_index=arr(rule_index, (A, N)),
        rules=rules, bias=arr(bias, (N,)), lut=arr(lut, (p.lut_depth,)),
        kernel=arr(kernel, (H,)),
        seed=arr(np.arange(1, N + 1) if seed is None else seed, (N,), np.uint32),
        axon_source=src)


@pytest.fixture(scope="session")
def core_image():
    """The :func:`make_image` factory (session scoped, so hypothesis tests may use it)."""
    return make_image
