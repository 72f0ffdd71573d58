"""Turn a :class:`~.network.Network` into the fixed-point image of one core.

This is the single-core placement (axon a carries neuron a's spikes); the
host compiler builds on it for multi-core chips.  The conversions are the
ones docs/spec.md section 6 states: weight LSB 2**(w_exp - u_frac), kernel
scaled so that every learning rate is a power of two in weight LSBs per
accumulator LSB, and the sigmoid sampled at bin centres into the LUT.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .params import CoreParams
from .prng import derive_seeds
from .spaces import Config

__all__ = ["Block", "CoreImage", "quantize", "sigmoid_lut", "step_lut"]

#: derive_seed stream of the firing PRNGs
SEED_STREAM_FIRE = 0


@dataclass(frozen=True)
class Block:
    """Where a projection lives in the synapse matrix and how to read it back."""

    name: str
    axon0: int        # first axon (pre neuron) row
    neuron0: int      # first neuron (post) column
    shape: tuple      # (post, pre) like the network's matrix
    rule: int         # rule-table index
    lsb: float        # network units of one weight LSB


@dataclass
class CoreImage:
    """All run-time state of a core, as the host would load it."""

    params: CoreParams
    config: dict
    weight: np.ndarray       # (A, N) int
    acc: np.ndarray          # (A, N) int
    rule_index: np.ndarray   # (A, N) int
    rules: list              # [(c_causal, c_anticausal, eta_s, w_exp)] * R
    bias: np.ndarray         # (N,) int
    lut: np.ndarray          # (2**lut_bits,) int
    kernel: np.ndarray       # (H,) int, k(1) .. k(H)
    seed: np.ndarray         # (N,) uint32 firing-PRNG states, non-zero
    axon_source: np.ndarray  # (A,) int, local neuron feeding axon a, -1 = none
    blocks: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def sigmoid_lut(p, lut_shift, tau_ref):
    """Firing probabilities sigma(u - ln tau_ref) at the centre of every LUT bin."""
    step = 2.0 ** (lut_shift - p.u_frac)
    k = np.arange(p.lut_depth) - p.lut_depth // 2
    u = (k + 0.5) * step
    prob = 1.0 / (1.0 + np.exp(-(u - math.log(tau_ref))))
    return np.minimum(np.round(prob * 2 ** p.lut_width), p.lut_certain).astype(np.int64)


def step_lut(p, lut_shift, threshold):
    """A deterministic neuron: fire for certain when u >= threshold, never below."""
    step = 2.0 ** (lut_shift - p.u_frac)
    k = np.arange(p.lut_depth) - p.lut_depth // 2
    return np.where(k * step >= threshold, p.lut_certain, 0).astype(np.int64)


def _w_exp(p, w_max, name):
    wmax_code = p.weight_range[1]
    need = w_max * 2 ** p.u_frac / wmax_code
    e = max(0, math.ceil(math.log2(need))) if need > 0 else 0
    if e > 7:
        limit = wmax_code * 2.0 ** (7 - p.u_frac)
        raise ValueError(f"projection {name!r}: weight range {w_max:g} exceeds the largest "
                         f"the core represents ({limit:g})")
    return e


def _kernel_and_rates(p, net, lsbs):
    """Kernel codes, kernel scale and per-projection eta shifts.

    A plastic projection moves ``g = eta / (L * lsb)`` weight LSBs per unit of
    the real-valued accumulator; the core moves ``2**-shift`` LSBs per
    accumulator code, and a code is ``1 / kscale`` real units.  So
    ``kscale = g * 2**shift``: kscale is chosen to make the fastest
    projection's rate exact with the kernel's full width; the others are
    exact when their rates differ by powers of two (the relative error is
    reported otherwise).
    """
    kmax = (1 << p.kernel_bits) - 1
    peak = float(np.max(net.kernel, initial=0.0))
    limit = kmax / peak if peak > 0 else float(1 << p.kernel_bits)
    rates = {pr.name: pr.eta / (net.norm * lsbs[pr.name]) for pr in net.projections
             if pr.plastic}
    if rates:
        g = max(rates.values())
        shift = math.floor(math.log2(limit / g))
        if shift < 0:
            raise ValueError(f"learning rate too large: {g:g} weight LSBs per unit of "
                             f"accumulated trace exceeds the kernel range; use a wider "
                             f"weight range")
        kscale = g * 2.0 ** shift
    else:
        kscale = 2.0 ** math.floor(math.log2(limit))
    shifts, err = {}, {}
    for name, rate in rates.items():
        s = round(math.log2(kscale / rate))
        if not 0 <= s <= p.acc_bits - 1:
            raise ValueError(f"projection {name!r}: learning rate needs shift {s}, "
                             f"outside 0..{p.acc_bits - 1}; use a wider accumulator or "
                             f"a larger learning rate")
        shifts[name] = s
        err[name] = kscale / (rate * 2.0 ** s) - 1.0
    kernel = np.zeros(p.history, dtype=np.int64)
    kernel[:len(net.kernel)] = np.round(net.kernel * kscale).astype(np.int64)
    return kernel, kscale, shifts, err


def quantize(net, params=None, lut_shift=8, apply_period=None):
    """Fixed-point image of ``net`` on one core (default: a core exactly the network's size)."""
    n = net.size
    p = params or CoreParams(neurons=n, axons=n)
    if n > p.neurons or n > p.axons:
        raise ValueError(f"network {net.name!r} has {n} neurons; this core has "
                         f"{p.neurons} neurons and {p.axons} axons")
    if net.tau_syn > p.history:
        raise ValueError(f"tau_syn {net.tau_syn} exceeds the history depth {p.history}")
    if net.tau_ref > 255:
        raise ValueError(f"tau_ref {net.tau_ref} exceeds 255")
    if len(net.kernel) > p.history:
        raise ValueError(f"kernel has {len(net.kernel)} taps; history depth is {p.history}")

    offs = net.offsets()
    A, N = p.axons, p.neurons
    lsbs = {pr.name: 2.0 ** (_w_exp(p, pr.w_max, pr.name) - p.u_frac) for pr in net.projections}
    kernel, kscale, shifts, eta_err = _kernel_and_rates(p, net, lsbs)

    weight = np.zeros((A, N), dtype=np.int64)
    rule_index = np.zeros((A, N), dtype=np.int64)
    rules = [(0, 0, 0, 0)]   # rule 0: no synapse
    blocks, qerr = {}, {}
    lo, hi = p.weight_range
    glo, ghi = p.gain_range
    for pr in net.projections:
        lsb = lsbs[pr.name]
        e = round(math.log2(lsb)) + p.u_frac
        gains = pr.gains if pr.plastic else (0, 0)
        for g in gains:
            if not glo <= g <= ghi:
                raise ValueError(f"projection {pr.name!r}: gain {g} outside {glo}..{ghi}")
        entry = (gains[0], gains[1], shifts.get(pr.name, 0), e)
        if entry not in rules[1:]:   # rule 0 stays "no synapse", even if fields match
            rules.append(entry)
        if len(rules) > p.rules:
            raise ValueError(f"network {net.name!r} needs {len(rules)} rule-table entries; "
                             f"the core has {p.rules}")
        r = rules.index(entry, 1)
        codes = np.clip(np.round(pr.weights / lsb), lo, hi).astype(np.int64)
        codes[~pr.mask] = 0
        a0, n0 = offs[pr.pre], offs[pr.post]
        rows = slice(a0, a0 + pr.weights.shape[1])
        cols = slice(n0, n0 + pr.weights.shape[0])
        weight[rows, cols] = codes.T
        rule_index[rows, cols] = np.where(pr.mask.T, r, 0)
        blocks[pr.name] = Block(pr.name, a0, n0, pr.weights.shape, r, lsb)
        err = np.abs(codes * lsb - pr.weights)[pr.mask]
        qerr[pr.name] = {"lsb": lsb, "max_abs_error": float(err.max(initial=0.0)),
                         "rms_error": float(np.sqrt(np.mean(err ** 2))) if err.size else 0.0,
                         "eta_relative_error": eta_err.get(pr.name, 0.0)}
    while len(rules) < p.rules:
        rules.append((0, 0, 0, 0))

    blo, bhi = p.bias_range
    bias = np.full(N, blo, dtype=np.int64)   # unused neurons: as silent as the LUT allows
    bias[:n] = np.clip(np.round(net.bias() * 2 ** p.u_frac), blo, bhi).astype(np.int64)
    axon_source = np.full(A, -1, dtype=np.int64)
    axon_source[:n] = np.arange(n)
    config = {Config.TAU_REF: int(net.tau_ref), Config.TAU_SYN: int(net.tau_syn),
              Config.LUT_SHIFT: int(lut_shift),
              Config.APPLY_PERIOD: int(apply_period or 0), Config.PHASE_COUNT: 0,
              Config.STEP_COUNT: 0, Config.APPLY_COUNT: 0}
    return CoreImage(
        params=p, config=config, weight=weight, acc=np.zeros((A, N), dtype=np.int64),
        rule_index=rule_index, rules=rules, bias=bias,
        lut=sigmoid_lut(p, lut_shift, net.tau_ref), kernel=kernel,
        seed=derive_seeds(net.seed, SEED_STREAM_FIRE, N),
        axon_source=axon_source, blocks=blocks,
        report={"kernel_scale": kscale, "weights": qerr})
