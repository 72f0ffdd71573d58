"""Build-time parameters of a SAL core and the fixed-point formats derived from them.

Everything here is fixed when a core is built (in the RTL: an elaboration
parameter; in the golden model: a constructor argument).  Run-time
configuration lives in the core's memory spaces, see :mod:`.spaces`.
docs/spec.md section 2 is the normative description of every field.
"""

from dataclasses import dataclass

__all__ = ["CoreParams", "signed_range", "unsigned_max"]


def signed_range(bits):
    """Inclusive (min, max) of a two's-complement integer of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def unsigned_max(bits):
    return (1 << bits) - 1


@dataclass(frozen=True)
class CoreParams:
    """Build-time parameters of one core.

    Parameters
    ----------
    neurons : int
        Neurons N in the core.
    axons : int
        Axons A (synapse rows) in the core.
    history : int
        Spike-history depth H in steps, for neurons and axons alike.
        Bounds tau_syn and the kernel length.
    weight_bits : int
        Signed weight width.
    acc_bits : int
        Signed plasticity-accumulator width.
    u_bits, u_frac : int
        Signed membrane-potential width and its fractional bits.
    bias_bits : int
        Signed bias width (same fractional bits as the potential).
    lut_bits : int
        log2 of the activation-LUT depth.
    lut_width : int
        Width of an activation-LUT entry (firing probability).
    kernel_bits : int
        Width of an unsigned plasticity-kernel entry.
    rules : int
        Entries in the rule table (so a rule index has log2(rules) bits).
    gain_bits : int
        Signed width of c_causal and c_anticausal.
    """

    neurons: int = 256
    axons: int = 256
    history: int = 64
    weight_bits: int = 8
    acc_bits: int = 16
    u_bits: int = 20
    u_frac: int = 12
    bias_bits: int = 16
    lut_bits: int = 8
    lut_width: int = 16
    kernel_bits: int = 8
    rules: int = 8
    gain_bits: int = 4

    # Fixed by the spec rather than parameters: the PRNG is xorshift32, the
    # weight exponent is 3 bits, the learning rate is a 5-bit shift.
    PRNG_BITS = 32
    WEXP_BITS = 3
    ETA_S_BITS = 5
    COUNT_BITS = 32

    def __post_init__(self):
        def need(cond, what):
            if not cond:
                raise ValueError(f"invalid core parameter: {what}")

        need(1 <= self.neurons <= 4096, f"neurons must be 1..4096, not {self.neurons!r}")
        need(1 <= self.axons <= 4096, f"axons must be 1..4096, not {self.axons!r}")
        need(2 <= self.history <= 128, f"history must be 2..128, not {self.history!r}")
        need(2 <= self.weight_bits <= 16, f"weight_bits must be 2..16, not {self.weight_bits!r}")
        need(4 <= self.acc_bits <= 24, f"acc_bits must be 4..24, not {self.acc_bits!r}")
        need(8 <= self.u_bits <= 24, f"u_bits must be 8..24, not {self.u_bits!r}")
        need(0 <= self.u_frac < self.u_bits, f"u_frac must be 0..u_bits-1, not {self.u_frac!r}")
        need(2 <= self.bias_bits <= self.u_bits,
             f"bias_bits must be 2..u_bits, not {self.bias_bits!r}")
        need(2 <= self.lut_bits <= 12, f"lut_bits must be 2..12, not {self.lut_bits!r}")
        need(2 <= self.lut_width <= 16, f"lut_width must be 2..16, not {self.lut_width!r}")
        need(2 <= self.kernel_bits <= 16, f"kernel_bits must be 2..16, not {self.kernel_bits!r}")
        need(self.rules in (1, 2, 4, 8, 16), f"rules must be 1, 2, 4, 8 or 16, not {self.rules!r}")
        need(2 <= self.gain_bits <= 8, f"gain_bits must be 2..8, not {self.gain_bits!r}")

    # Derived ranges, used by golden, RTL and host alike.
    @property
    def weight_range(self):
        return signed_range(self.weight_bits)

    @property
    def acc_range(self):
        return signed_range(self.acc_bits)

    @property
    def u_range(self):
        return signed_range(self.u_bits)

    @property
    def bias_range(self):
        return signed_range(self.bias_bits)

    @property
    def gain_range(self):
        return signed_range(self.gain_bits)

    @property
    def lut_depth(self):
        return 1 << self.lut_bits

    @property
    def lut_certain(self):
        """LUT code meaning "fire with probability 1"."""
        return unsigned_max(self.lut_width)

    @property
    def rule_bits(self):
        return max(1, (self.rules - 1).bit_length())

    @property
    def refractory_bits(self):
        return 8
