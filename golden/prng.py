"""The PRNGs of the spec: xorshift32 in the core, splitmix64 for host-side seeding.

xorshift32 (Marsaglia 2003, shifts 13, 17, 5) needs only XORs and wiring in
hardware, has period 2**32 - 1 over non-zero states, and is stuck at zero,
so zero is never a valid seed.
"""

import numpy as np

__all__ = ["xorshift32", "xorshift32_array", "derive_seed", "derive_seeds"]

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def xorshift32(x):
    """Advance one xorshift32 state (a Python int) by one step."""
    x ^= (x << 13) & _M32
    x ^= x >> 17
    x ^= (x << 5) & _M32
    return x


def xorshift32_array(x):
    """Advance every state of a ``uint32`` array by one step, in place; returns it."""
    x ^= x << np.uint32(13)
    x ^= x >> np.uint32(17)
    x ^= x << np.uint32(5)
    return x


def _splitmix64(z):
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def derive_seed(master, stream, index):
    """A non-zero 32-bit seed for PRNG ``index`` of ``stream`` from a master seed.

    ``stream`` separates the uses (0: firing, 1: rounding, ...), so that no
    two generators of a network start from the same state.
    """
    z = _splitmix64((int(master) & _M64) ^ _splitmix64((stream << 32) | index))
    seed = z & _M32
    return seed if seed else 1


def derive_seeds(master, stream, count, offset=0):
    return np.array([derive_seed(master, stream, offset + i) for i in range(count)],
                    dtype=np.uint32)
