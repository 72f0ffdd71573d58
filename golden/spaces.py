"""The host-visible memory map of a core: memory spaces, their depth, word width and access.

docs/spec.md section 5 documents the same table; the golden model, the RTL
access port and the host protocol all take it from here.
"""

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Space", "Config", "SpaceInfo", "space_info", "pack_rule", "unpack_rule"]


class Space(IntEnum):
    CONFIG = 0        # run-time configuration registers, see Config
    WEIGHT = 1        # [a * N + n] signed weight of axon a onto neuron n
    ACC = 2           # [a * N + n] signed plasticity accumulator
    RULE_INDEX = 3    # [a * N + n] rule-table index of the synapse
    RULES = 4         # [r] packed rule entry, see pack_rule
    BIAS = 5          # [n] signed bias, potential units
    LUT = 6           # [k] activation LUT entry (firing probability)
    KERNEL = 7        # [n - 1] plasticity kernel k(n), n = 1 .. H
    SEED = 8          # [n] firing PRNG state (xorshift32)
    REFRACTORY = 9    # [n] refractory counter
    NEURON_HIST = 10  # [n] spike history, bit n-1 = spike at t - n
    AXON_HIST = 11    # [a] axon spike history, same layout
    POTENTIAL = 12    # [n] potential of the last step (read only)
    SPIKE_COUNT = 13  # [n] spikes since last cleared (saturating)
    SPIKES = 14       # [w] spikes of the last step, bit j = neuron 32 w + j (read only)


class Config(IntEnum):
    TAU_REF = 0       # 1 .. 255: refractory period in steps
    TAU_SYN = 1       # 1 .. H: PSP length in steps
    LUT_SHIFT = 2     # 0 .. u_bits - 1: LUT index = (u >> LUT_SHIFT) + depth / 2
    APPLY_PERIOD = 3  # 0 .. 65535: apply every P steps, 0 = on host command only
    PHASE_COUNT = 4   # steps since the last apply (0 .. 65535)
    STEP_COUNT = 5    # steps run (32 bit, saturating)
    APPLY_COUNT = 6   # applies run (32 bit, saturating)


@dataclass(frozen=True)
class SpaceInfo:
    space: Space
    depth: int
    bits: int
    signed: bool
    writable: bool


_CONFIG_BITS = {Config.TAU_REF: 8, Config.TAU_SYN: 8, Config.LUT_SHIFT: 5,
                Config.APPLY_PERIOD: 16, Config.PHASE_COUNT: 16,
                Config.STEP_COUNT: 32, Config.APPLY_COUNT: 32}


def config_bits(reg):
    return _CONFIG_BITS[Config(reg)]


def rule_word_bits(p):
    return 2 * p.gain_bits + p.ETA_S_BITS + p.WEXP_BITS


def space_info(p, space):
    """Depth, word width, signedness and writability of ``space`` for core parameters ``p``."""
    space = Space(space)
    syn = p.axons * p.neurons
    table = {
        Space.CONFIG: (len(Config), 32, False, True),
        Space.WEIGHT: (syn, p.weight_bits, True, True),
        Space.ACC: (syn, p.acc_bits, True, True),
        Space.RULE_INDEX: (syn, p.rule_bits, False, True),
        Space.RULES: (p.rules, rule_word_bits(p), False, True),
        Space.BIAS: (p.neurons, p.bias_bits, True, True),
        Space.LUT: (p.lut_depth, p.lut_width, False, True),
        Space.KERNEL: (p.history, p.kernel_bits, False, True),
        Space.SEED: (p.neurons, p.PRNG_BITS, False, True),
        Space.REFRACTORY: (p.neurons, p.refractory_bits, False, True),
        Space.NEURON_HIST: (p.neurons, p.history, False, True),
        Space.AXON_HIST: (p.axons, p.history, False, True),
        Space.POTENTIAL: (p.neurons, p.u_bits, True, False),
        Space.SPIKE_COUNT: (p.neurons, p.COUNT_BITS, False, True),
        Space.SPIKES: ((p.neurons + 31) // 32, 32, False, False),
    }
    depth, bits, signed, writable = table[space]
    return SpaceInfo(space, depth, bits, signed, writable)


def pack_rule(p, gain_causal, gain_anticausal, eta_s, w_exp):
    """Pack one rule-table entry.

    Layout, LSB first: c_causal (gain_bits, two's complement), c_anticausal
    (gain_bits), eta shift (5), weight exponent (3): 16 bits by default.
    eta_s is at most acc_bits - 1, so the carry left by an apply fits the
    accumulator.
    """
    g = p.gain_bits
    lo, hi = p.gain_range
    fields = [("c_causal", gain_causal, lo, hi), ("c_anticausal", gain_anticausal, lo, hi),
              ("eta_s", eta_s, 0, min(31, p.acc_bits - 1)), ("w_exp", w_exp, 0, 7)]
    for name, value, flo, fhi in fields:
        if not flo <= value <= fhi:
            raise ValueError(f"rule field {name} must be in {flo}..{fhi}, not {value!r}")
    gm = (1 << g) - 1
    return ((gain_causal & gm) | ((gain_anticausal & gm) << g) | (eta_s << 2 * g)
            | (w_exp << (2 * g + 5)))


def unpack_rule(p, word):
    """Inverse of :func:`pack_rule`: (c_causal, c_anticausal, eta_s, w_exp)."""
    g = p.gain_bits
    gm = (1 << g) - 1

    def sx(v):
        return v - (1 << g) if v >> (g - 1) else v

    return (sx(word & gm), sx((word >> g) & gm), (word >> 2 * g) & 0x1F,
            (word >> (2 * g + 5)) & 0x7)
