"""Random and directed core states for the cocotb tests, built with the golden model.

Every generator returns a :class:`~sal_hw.golden.fixed.FixedCore` holding the
state to load, and is a pure function of its seed (numpy's PCG64), so any
network the testbench prints can be rebuilt here without a simulator:

    from stimulus import random_core
    golden, info = random_core(params, seed)

The testbench loads ``state_of(golden)`` into the DUT word by word, so the DUT
and the golden model start from the very same words.
"""

import numpy as np

from sal_hw.golden.fixed import FixedCore
from sal_hw.golden.network import layered, recurrent
from sal_hw.golden.quantize import quantize, step_lut
from sal_hw.golden.spaces import Config, Space, pack_rule, space_info

__all__ = ["WRITABLE", "READABLE", "READ_ONLY", "random_core", "state_of", "to_word",
           "from_word", "single_core_sources", "all_spike_core", "none_spike_core",
           "saturation_core", "describe"]

#: Writable spaces, in the order the testbench loads them.
WRITABLE = [Space.CONFIG, Space.RULES, Space.KERNEL, Space.LUT, Space.BIAS, Space.SEED,
            Space.REFRACTORY, Space.NEURON_HIST, Space.AXON_HIST, Space.SPIKE_COUNT,
            Space.RULE_INDEX, Space.WEIGHT, Space.ACC]
READ_ONLY = [Space.POTENTIAL, Space.SPIKES]
READABLE = WRITABLE + READ_ONLY

U32 = (1 << 32) - 1


def to_word(p, space, value):
    """The bits a host sends for ``value`` (two's complement in the space's width)."""
    info = space_info(p, space)
    return int(value) & ((1 << info.bits) - 1) if info.signed else int(value)


def from_word(p, space, word):
    """Inverse of :func:`to_word` (sign-extends signed spaces)."""
    info = space_info(p, space)
    word = int(word)
    if info.signed and word >> (info.bits - 1) & 1:
        return word - (1 << info.bits)
    return word


def state_of(golden):
    """Every writable space of ``golden`` as {space: [values]} (signed values as ints)."""
    return {space: golden.read(space) for space in WRITABLE}


def single_core_sources(p):
    """axon_source of the RTL's single-core loop-back: axon a carries neuron a."""
    src = np.arange(p.axons, dtype=np.int64)
    src[src >= p.neurons] = -1
    return src


# -- random helpers ---------------------------------------------------------------

def _pick(rng, options, weights=None):
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        weights = weights / weights.sum()
    return options[int(rng.choice(len(options), p=weights))]


def _random_rule(p, rng):
    glo, ghi = p.gain_range
    eta_max = min(31, p.acc_bits - 1)
    gc = int(rng.integers(glo, ghi + 1)) if rng.random() < 0.85 else 0
    ga = int(rng.integers(glo, ghi + 1)) if rng.random() < 0.85 else 0
    if rng.random() < 0.15:
        gc, ga = _pick(rng, [(glo, glo), (ghi, ghi), (glo, ghi), (ghi, glo)])
    eta = _pick(rng, [int(rng.integers(0, min(6, eta_max) + 1)),
                      int(rng.integers(0, eta_max + 1)), eta_max], [0.5, 0.4, 0.1])
    wexp = _pick(rng, [0, 1, 2, 3, 4, 5, 6, 7], [4, 3, 3, 2, 1, 1, 1, 1])
    return gc, ga, eta, wexp


def _random_bits(rng, count, bits, density):
    if density <= 0:
        return [0] * count
    words = []
    for _ in range(count):
        b = rng.random(bits) < density
        words.append(sum(1 << int(i) for i in np.flatnonzero(b)))
    return words


def _extremes(lo, hi):
    return np.array([lo, hi, lo + 1, hi - 1], dtype=np.int64)


def _random_network(p, rng, seed):
    """A layered or recurrent golden network that fits the core."""
    N = min(p.neurons, p.axons)
    kind = _pick(rng, ["layered", "recurrent"])
    tau = int(rng.integers(1, max(1, (p.history + 1) // 2) + 1))
    eta = float(10 ** rng.uniform(-3, -0.7))
    if kind == "recurrent" or N < 3:
        kind = "recurrent"
        n = int(rng.integers(max(2, N // 2) if rng.random() < 0.6 else 2, N + 1))
        rule = _pick(rng, ["sal", "hebbian", "off"], [0.6, 0.3, 0.1])
        net = recurrent(n=n, tau=tau, eta=eta, seed=seed, rule=rule)
        shape = [n]
    else:
        depth = int(rng.integers(2, min(5, N) + 1))
        total = int(rng.integers(max(depth, N // 2) if rng.random() < 0.6 else depth, N + 1))
        cuts = np.sort(rng.choice(np.arange(1, total), size=depth - 1, replace=False))
        shape = [int(v) for v in np.diff(np.concatenate([[0], cuts, [total]]))]
        b_rule = _pick(rng, ["sal", "hebbian", "off"], [0.6, 0.3, 0.1])
        net = layered(layers=shape, tau=tau, eta=eta, seed=seed, b_rule=b_rule)
    return net, kind, shape, tau, eta


def _quantized_image(p, rng, seed):
    """quantize() of a random network, retried with new draws if the core can't hold it."""
    last = None
    for attempt in range(20):
        net, kind, shape, tau, eta = _random_network(p, rng, seed)
        lut_shift = int(rng.integers(max(0, p.u_frac - 8), min(p.u_bits - 1, p.u_frac) + 1))
        period = _pick(rng, [0, int(rng.integers(1, 51))], [0.3, 0.7])
        try:
            image = quantize(net, p, lut_shift=lut_shift, apply_period=period)
        except ValueError as e:
            last = e
            continue
        eta_max = min(31, p.acc_bits - 1)
        image.rules = [(c, a, min(e, eta_max), w) for c, a, e, w in image.rules]
        image.axon_source = single_core_sources(p)
        desc = {"kind": kind, "shape": shape, "tau": tau, "eta": round(eta, 5),
                "lut_shift": lut_shift, "apply_period": period}
        return image, desc
    raise RuntimeError(f"no network fits core {p}: {last}")


# -- the random core ----------------------------------------------------------------

def random_core(p, seed, *, plastic=True):
    """A random network's core state with every space stirred; returns (golden, info).

    Weights include the bounds and their neighbours, the rule table and the
    per-synapse rule indices are random, biases, seeds, kernel, LUT, histories,
    refractory and spike counters are random, and TAU_REF, TAU_SYN,
    APPLY_PERIOD and the counters are drawn over their ranges (with a bias
    toward values that keep the network spiking).
    """
    rng = np.random.default_rng(seed)
    A, N, H = p.axons, p.neurons, p.history
    image, info = _quantized_image(p, rng, seed)
    g = FixedCore(image)
    g.axon_source = single_core_sources(p)
    info["seed"] = seed

    # Rule table: rule 0 mostly stays "no synapse", sometimes it is random too.
    rules = [(0, 0, 0, 0) if rng.random() < 0.7 else _random_rule(p, rng)]
    rules += [_random_rule(p, rng) for _ in range(p.rules - 1)]
    if not plastic:
        rules = [(0, 0, e, w) for _, _, e, w in rules]
    g.write(Space.RULES, 0, [pack_rule(p, *r) for r in rules])
    info["rules"] = rules

    # Rule indices: uniform per synapse, or the network's structure.
    mode = _pick(rng, ["random", "structured"], [0.6, 0.4])
    if mode == "random":
        g.write(Space.RULE_INDEX, 0, rng.integers(0, p.rules, A * N).tolist())
    info["rule_index"] = mode

    # Weights: quantized, some overwritten with the bounds and their neighbours.
    lo, hi = p.weight_range
    w = np.array(g.read(Space.WEIGHT), dtype=np.int64)
    frac_ext = float(rng.uniform(0.02, 0.25))
    pick = rng.random(A * N) < frac_ext
    w[pick] = rng.choice(_extremes(lo, hi), size=int(pick.sum()))
    if mode == "random":
        pick = rng.random(A * N) < float(rng.uniform(0, 0.5))
        w[pick] = rng.integers(lo, hi + 1, size=int(pick.sum()))
    g.write(Space.WEIGHT, 0, w.tolist())
    info["weight_extremes"] = round(frac_ext, 3)

    # Accumulators.
    alo, ahi = p.acc_range
    acc_mode = _pick(rng, ["zero", "small", "full"], [0.4, 0.3, 0.3])
    if acc_mode == "small":
        acc = np.clip(np.round(rng.normal(0, 2 ** (p.acc_bits - 4), A * N)), alo, ahi)
    elif acc_mode == "full":
        acc = rng.integers(alo, ahi + 1, A * N)
        pick = rng.random(A * N) < 0.1
        acc[pick] = rng.choice(_extremes(alo, ahi), size=int(pick.sum()))
    else:
        acc = np.zeros(A * N)
    g.write(Space.ACC, 0, acc.astype(np.int64).tolist())
    info["acc"] = acc_mode

    # Biases: the network's plus noise, a few at the bounds.
    blo, bhi = p.bias_range
    bias = np.array(g.read(Space.BIAS), dtype=np.int64)
    noise = float(rng.choice([0.25, 1.0, 3.0])) * 2 ** p.u_frac
    drive = float(rng.choice([0.0, 0.0, 1.0, 2.0, 3.0])) * 2 ** p.u_frac   # livelier networks
    bias = np.clip(bias + np.round(rng.normal(drive, noise, N)).astype(np.int64), blo, bhi)
    pick = rng.random(N) < 0.05
    bias[pick] = rng.choice(_extremes(blo, bhi), size=int(pick.sum()))
    g.write(Space.BIAS, 0, bias.tolist())
    info["drive"] = drive / 2 ** p.u_frac

    # Firing seeds.
    g.write(Space.SEED, 0, rng.integers(1, 1 << 32, N, dtype=np.uint64).tolist())

    # LUT.
    lut_mode = _pick(rng, ["sigmoid", "certain", "step", "random"], [0.5, 0.2, 0.2, 0.1])
    lut = np.array(g.read(Space.LUT), dtype=np.int64)
    depth = p.lut_depth
    cfg = {Config(i): v for i, v in enumerate(g.read(Space.CONFIG))}
    if lut_mode == "certain":
        pick = rng.random(depth) < 0.1
        lut[pick] = p.lut_certain
    elif lut_mode == "step":
        thr = float(rng.normal(0, 1.0))
        lut = step_lut(p, cfg[Config.LUT_SHIFT], thr)
    elif lut_mode == "random":
        lut = rng.integers(0, p.lut_certain + 1, depth)
        lut[rng.random(depth) < 0.1] = p.lut_certain
    g.write(Space.LUT, 0, np.asarray(lut).tolist())
    info["lut"] = lut_mode

    # Kernel: the network's, or random codes with a random number of taps.
    if rng.random() < 0.3:
        taps = int(rng.integers(0, H + 1))
        kernel = np.zeros(H, dtype=np.int64)
        kernel[:taps] = rng.integers(0, 1 << p.kernel_bits, taps)
        if taps and rng.random() < 0.3:
            kernel[:taps] = (1 << p.kernel_bits) - 1
        g.write(Space.KERNEL, 0, kernel.tolist())
        info["kernel"] = f"random {taps} taps"

    # Configuration.
    tau_ref = _pick(rng, [1, 2, int(rng.integers(1, 21)), int(rng.integers(1, 256))],
                    [0.2, 0.1, 0.6, 0.1])
    tau_syn = _pick(rng, [int(rng.integers(1, H + 1)), cfg[Config.TAU_SYN], 1, H],
                    [0.6, 0.2, 0.1, 0.1])
    period = cfg[Config.APPLY_PERIOD]
    phase = _pick(rng, [0, int(rng.integers(0, max(period, 1) + 1)), int(rng.integers(0, 65536)),
                        65535 - int(rng.integers(0, 20))], [0.4, 0.3, 0.15, 0.15])
    steps = _pick(rng, [0, int(rng.integers(0, 1 << 32)), U32 - int(rng.integers(0, 20))],
                  [0.5, 0.3, 0.2])
    applies = _pick(rng, [0, int(rng.integers(0, 1 << 32)), U32 - int(rng.integers(0, 3))],
                    [0.5, 0.3, 0.2])
    lut_shift = cfg[Config.LUT_SHIFT] if rng.random() < 0.85 else int(rng.integers(0, p.u_bits))
    g.write(Space.CONFIG, 0, [tau_ref, tau_syn, lut_shift, period, phase, steps, applies])
    info.update(tau_ref=tau_ref, tau_syn=tau_syn, phase=phase)

    # Refractory counters, histories, spike counters.
    refr = _pick(rng, ["zero", "tau", "any"], [0.4, 0.4, 0.2])
    if refr == "tau":
        g.write(Space.REFRACTORY, 0, rng.integers(0, tau_ref, N).tolist())
    elif refr == "any":
        g.write(Space.REFRACTORY, 0, rng.integers(0, 256, N).tolist())
    dens = float(_pick(rng, [0.0, 0.05, 0.3]))
    g.write(Space.NEURON_HIST, 0, _random_bits(rng, N, H, dens))
    dens = float(_pick(rng, [0.0, 0.05, 0.3]))
    g.write(Space.AXON_HIST, 0, _random_bits(rng, A, H, dens))
    cnt = _pick(rng, ["zero", "random", "near_max"], [0.5, 0.3, 0.2])
    if cnt == "random":
        g.write(Space.SPIKE_COUNT, 0, rng.integers(0, 1 << 32, N, dtype=np.uint64).tolist())
    elif cnt == "near_max":
        g.write(Space.SPIKE_COUNT, 0, (U32 - rng.integers(0, 4, N)).tolist())
    return g, info


# -- directed states ----------------------------------------------------------------

def all_spike_core(p, seed):
    """Every neuron fires every step: LUT all certain, refractory 0, TAU_REF 1."""
    g, info = random_core(p, seed)
    cfg = g.read(Space.CONFIG)
    cfg[Config.TAU_REF] = 1
    g.write(Space.CONFIG, 0, cfg)
    g.write(Space.LUT, 0, [p.lut_certain] * p.lut_depth)
    g.write(Space.REFRACTORY, 0, [0] * p.neurons)
    info["directed"] = "all_spike"
    return g, info


def none_spike_core(p, seed):
    """No neuron ever fires: LUT all zeros."""
    g, info = random_core(p, seed)
    g.write(Space.LUT, 0, [0] * p.lut_depth)
    info["directed"] = "none_spike"
    return g, info


def saturation_core(p, seed):
    """Weights and accumulators at and near both bounds, fast rules: applies saturate both ways."""
    rng = np.random.default_rng(seed)
    g, info = random_core(p, seed)
    A, N = p.axons, p.neurons
    lo, hi = p.weight_range
    alo, ahi = p.acc_range
    eta_max = min(31, p.acc_bits - 1)
    glo, ghi = p.gain_range
    # Rule r: eta_s from {0, 1, 2, eta_max, ...}: with eta 0 a full accumulator moves the
    # weight by thousands of LSBs; with eta_max only the sign survives.
    etas = [0, 1, 2, eta_max, eta_max - 1, 3, 0, 1, 5, 0, eta_max, 2, 0, 4, 1, 0]
    rules = [(int(rng.integers(glo, ghi + 1)), int(rng.integers(glo, ghi + 1)),
              max(0, etas[r % len(etas)]), int(rng.integers(0, 8))) for r in range(p.rules)]
    g.write(Space.RULES, 0, [pack_rule(p, *r) for r in rules])
    g.write(Space.RULE_INDEX, 0, rng.integers(0, p.rules, A * N).tolist())
    g.write(Space.WEIGHT, 0, rng.choice(_extremes(lo, hi), A * N).tolist())
    acc = rng.choice(np.concatenate([_extremes(alo, ahi), [alo + 2, ahi - 2, -1, 1]]), A * N)
    g.write(Space.ACC, 0, acc.tolist())
    info["directed"] = "saturation"
    info["rules"] = rules
    return g, info


def describe(info):
    """One line for the log."""
    keys = ["seed", "kind", "shape", "tau", "eta", "tau_ref", "tau_syn", "lut_shift", "lut",
            "apply_period", "phase", "drive", "rule_index", "acc", "weight_extremes", "kernel",
            "directed"]
    return ", ".join(f"{k}={info[k]}" for k in keys if k in info)
