"""Bit-exact fixed-point model of one SAL core: the reference the RTL must match.

Implements docs/spec.md section 3 (the step) and section 4 (the apply), and
exposes every host-visible memory space (section 5) through :meth:`read`
and :meth:`write`.  Vectorized with numpy: no per-synapse Python loop.

Integers are exact throughout: sums that go through BLAS (float64) stay
below 2**53, far under what float64 represents exactly.
"""

import numpy as np

from .params import CoreParams
from .prng import xorshift32_array
from .spaces import Config, Space, config_bits, pack_rule, space_info, unpack_rule

__all__ = ["FixedCore", "AccessError"]


class AccessError(ValueError):
    """A host access that the core refuses (bad space, address, value or width)."""


def _sat(x, bits):
    return min(max(x, 0), (1 << bits) - 1)


class FixedCore:
    """One core's state and its timestep, in integers.

    Parameters
    ----------
    image : CoreImage
        Initial state, from :func:`sal_hw.golden.quantize.quantize`.
    """

    def __init__(self, image):
        p = image.params
        self.p = p
        self.cfg = {Config(k): int(v) for k, v in image.config.items()}
        A, N, H = p.axons, p.neurons, p.history
        self.weight = np.array(image.weight, dtype=np.int64).reshape(A, N)
        self.acc = np.array(image.acc, dtype=np.int64).reshape(A, N)
        self.rule_index = np.array(image.rule_index, dtype=np.int64).reshape(A, N)
        self.rules = [tuple(int(v) for v in r) for r in image.rules]
        self.bias = np.array(image.bias, dtype=np.int64)
        self.lut = np.array(image.lut, dtype=np.int64)
        self.kernel = np.array(image.kernel, dtype=np.int64)
        self.seed = np.array(image.seed, dtype=np.uint32)
        self.axon_source = np.array(image.axon_source, dtype=np.int64)
        self.refractory = np.zeros(N, dtype=np.int64)
        self.potential = np.zeros(N, dtype=np.int64)
        self.spike_count = np.zeros(N, dtype=np.int64)
        self.last_spikes = np.zeros(N, dtype=bool)
        # Spike histories as doubled rings (see _window): row p+H-n+1 holds s(t-n).
        self._nring = np.zeros((2 * H, N))
        self._aring = np.zeros((2 * H, A))
        self._ptr = 0
        self._validate_image()
        self._derive()

    # -- derived tables ----------------------------------------------------
    def _validate_image(self):
        for space, arr in [(Space.WEIGHT, self.weight), (Space.ACC, self.acc),
                           (Space.RULE_INDEX, self.rule_index), (Space.BIAS, self.bias),
                           (Space.LUT, self.lut), (Space.KERNEL, self.kernel),
                           (Space.SEED, self.seed)]:
            self._check_values(space, 0, np.asarray(arr).ravel())
        if len(self.rules) != self.p.rules:
            raise AccessError(f"rule table needs {self.p.rules} entries, not {len(self.rules)}")
        for r in self.rules:
            pack_rule(self.p, *r)
        for reg, value in self.cfg.items():
            self._check_config(reg, value)

    def _derive(self):
        """Recompute the tables that follow from weights, rule indices and rules."""
        table = np.array(self.rules, dtype=np.int64)
        self._gain_c = table[:, 0][self.rule_index]
        self._gain_a = table[:, 1][self.rule_index]
        self._eta_s = table[:, 2][self.rule_index]
        self._wexp = table[:, 3][self.rule_index]
        self._plastic = bool(np.any(self._gain_c)) or bool(np.any(self._gain_a))
        self._refresh_weights()
        nz = np.flatnonzero(self.kernel)
        self._ktaps = int(nz[-1]) + 1 if nz.size else 0
        self._krev = self.kernel[:self._ktaps][::-1].astype(float)

    def _refresh_weights(self):
        self._weff = (self.weight << self._wexp).astype(float)
        self._psp = None   # force a full recompute of the synaptic input

    # -- histories -----------------------------------------------------------
    def _window(self, ring, n):
        """Rows of ``ring`` holding s(t-n) .. s(t-1), oldest first."""
        top = self._ptr + self.p.history + 1
        return ring[top - n:top]

    def _push(self, neuron_spikes, axon_spikes):
        H = self.p.history
        self._ptr = (self._ptr + 1) % H
        for ring, s in ((self._nring, neuron_spikes), (self._aring, axon_spikes)):
            ring[self._ptr] = s
            ring[self._ptr + H] = s

    def _traces(self, ring):
        if self._ktaps == 0:
            return np.zeros(ring.shape[1], dtype=np.int64)
        return (self._krev @ self._window(ring, self._ktaps)).astype(np.int64)

    # -- the step -----------------------------------------------------------
    def fire(self, inject=None):
        """Steps 1-2 of the spec: potentials and spikes of this step.

        Returns the neuron spikes (bool, N).  Call :meth:`learn` with the
        axon spikes of the same step to finish it.
        """
        p, cfg = self.p, self.cfg
        psp = self._window(self._aring, cfg[Config.TAU_SYN]).any(axis=0)
        if self._psp is None:
            self._syn = psp.astype(float) @ self._weff
        else:
            changed = np.flatnonzero(psp != self._psp)
            if changed.size:
                sign = np.where(psp[changed], 1.0, -1.0)
                self._syn = self._syn + sign @ self._weff[changed]
        self._psp = psp
        ulo, uhi = p.u_range
        u = np.clip(self.bias + self._syn.astype(np.int64), ulo, uhi)
        self.potential = u
        xorshift32_array(self.seed)
        idx = np.clip((u >> cfg[Config.LUT_SHIFT]) + (p.lut_depth >> 1), 0, p.lut_depth - 1)
        prob = self.lut[idx]
        rand = (self.seed >> np.uint32(32 - p.lut_width)).astype(np.int64)
        spikes = (self.refractory == 0) & ((rand < prob) | (prob == p.lut_certain))
        self.refractory = np.where(spikes, cfg[Config.TAU_REF] - 1,
                                   np.maximum(self.refractory - 1, 0))
        return spikes

    def local_axon_spikes(self, spikes, inject=None):
        """Axon spikes of a single-core chip: each axon copies its source neuron."""
        src = self.axon_source
        out = np.zeros(self.p.axons, dtype=bool)
        ok = src >= 0
        out[ok] = spikes[src[ok]]
        if inject is not None:
            out |= self._axon_mask(inject)
        return out

    def _axon_mask(self, inject):
        inject = np.asarray(inject)
        if inject.dtype == bool:
            if inject.shape != (self.p.axons,):
                raise ValueError(f"inject mask must have {self.p.axons} entries")
            return inject
        mask = np.zeros(self.p.axons, dtype=bool)
        if inject.size and (inject.min() < 0 or inject.max() >= self.p.axons):
            raise ValueError(f"inject axon indices must be 0..{self.p.axons - 1}")
        mask[inject.astype(np.int64)] = True
        return mask

    def learn(self, spikes, axon_spikes):
        """Steps 3-5 of the spec: accumulate, shift histories, count, apply when due."""
        p, cfg = self.p, self.cfg
        if self._plastic:
            post = np.flatnonzero(spikes)
            pre = np.flatnonzero(axon_spikes)
            if post.size or pre.size:
                lo, hi = p.acc_range
                if post.size:
                    x = self._traces(self._aring)
                    self.acc[:, post] += self._gain_c[:, post] * x[:, None]
                if pre.size:
                    y = self._traces(self._nring)
                    self.acc[pre, :] += self._gain_a[pre, :] * y[None, :]
                # Both terms are added before one saturation, as the spec says.
                if post.size:
                    self.acc[:, post] = np.clip(self.acc[:, post], lo, hi)
                if pre.size:
                    self.acc[pre, :] = np.clip(self.acc[pre, :], lo, hi)
        self.last_spikes = np.asarray(spikes, dtype=bool).copy()
        self._push(spikes, axon_spikes)
        self.spike_count = np.minimum(self.spike_count + spikes, (1 << p.COUNT_BITS) - 1)
        cfg[Config.STEP_COUNT] = _sat(cfg[Config.STEP_COUNT] + 1, 32)
        cfg[Config.PHASE_COUNT] = _sat(cfg[Config.PHASE_COUNT] + 1, 16)
        period = cfg[Config.APPLY_PERIOD]
        if period and cfg[Config.PHASE_COUNT] >= period:
            self.apply()

    def step(self, inject=None):
        """One whole timestep of a single-core chip; returns the neuron spikes."""
        spikes = self.fire()
        self.learn(spikes, self.local_axon_spikes(spikes, inject))
        return spikes

    def run(self, steps, inject=None):
        """Run ``steps`` steps; returns the spike raster (steps, N) as bool."""
        raster = np.zeros((steps, self.p.neurons), dtype=bool)
        for t in range(steps):
            raster[t] = self.step(inject)
        return raster

    # -- the apply ----------------------------------------------------------
    def apply(self):
        """w <- sat(w + (acc >> eta_s)); acc <- acc mod 2**eta_s (the carry).

        The part of the accumulator too small to move the weight by one LSB
        stays for the next phase, so small updates neither stall nor add noise.
        """
        dw = self.acc >> self._eta_s
        self.acc -= dw << self._eta_s
        lo, hi = self.p.weight_range
        self.weight = np.clip(self.weight + dw, lo, hi)
        self.cfg[Config.PHASE_COUNT] = 0
        self.cfg[Config.APPLY_COUNT] = _sat(self.cfg[Config.APPLY_COUNT] + 1, 32)
        self._refresh_weights()

    # -- host access ----------------------------------------------------------
    def _check_config(self, reg, value):
        p = self.p
        limits = {Config.TAU_REF: (1, 255), Config.TAU_SYN: (1, p.history),
                  Config.LUT_SHIFT: (0, p.u_bits - 1)}
        lo, hi = limits.get(reg, (0, (1 << config_bits(reg)) - 1))
        if not lo <= value <= hi:
            raise AccessError(f"CONFIG register {Config(reg).name} must be {lo}..{hi}, "
                              f"not {value}")

    def _check_values(self, space, addr, values):
        info = space_info(self.p, space)
        if len(values) and (values.min() < (-(1 << (info.bits - 1)) if info.signed else 0)
                            or values.max() > ((1 << (info.bits - 1)) - 1 if info.signed
                                               else (1 << info.bits) - 1)):
            kind = "signed" if info.signed else "unsigned"
            raise AccessError(f"{space.name}: values must fit {info.bits}-bit {kind} words")
        if space == Space.SEED and np.any(values == 0):
            raise AccessError(f"{space.name}: a xorshift32 state must be non-zero")
        if space == Space.RULE_INDEX and len(values) and values.max() >= self.p.rules:
            raise AccessError(f"RULE_INDEX: rule indices must be below {self.p.rules}")

    def _bounds(self, space, addr, count):
        info = space_info(self.p, space)
        if addr < 0 or count < 0 or addr + count > info.depth:
            raise AccessError(f"{space.name}: addresses {addr}..{addr + count - 1} outside "
                              f"0..{info.depth - 1}")
        return info

    def _hist_words(self, ring, width):
        H = self.p.history
        bits = self._window(ring, H)[::-1].astype(bool)   # row n-1 = s(t-n)
        words = np.zeros(width, dtype=object)
        for n in range(H):
            words += bits[n].astype(object) * (1 << n)
        return words.astype(np.uint64) if H <= 64 else words

    def _set_hist(self, ring, first, words):
        H = self.p.history
        for i, w in enumerate(words):
            col = first + i
            for n in range(1, H + 1):
                bit = float((int(w) >> (n - 1)) & 1)
                top = self._ptr + H + 1
                row = top - n
                ring[row, col] = bit
                ring[(row + H) % (2 * H), col] = bit

    @staticmethod
    def _space(space):
        try:
            return Space(space)
        except ValueError:
            raise AccessError(f"no memory space {space!r} (valid: 0..{len(Space) - 1})") from None

    def read(self, space, addr=0, count=None):
        """Read ``count`` words of ``space`` from ``addr`` as Python ints."""
        space = self._space(space)
        info = space_info(self.p, space)
        count = info.depth - addr if count is None else count
        self._bounds(space, addr, count)
        sl = slice(addr, addr + count)
        if space == Space.CONFIG:
            return [self.cfg[Config(i)] for i in range(addr, addr + count)]
        if space == Space.RULES:
            return [pack_rule(self.p, *r) for r in self.rules[sl]]
        flat = {Space.WEIGHT: self.weight, Space.ACC: self.acc,
                Space.RULE_INDEX: self.rule_index}
        if space in flat:
            return [int(v) for v in flat[space].ravel()[sl]]
        if space == Space.SPIKES:
            bits = np.zeros(32 * info.depth, dtype=np.int64)
            bits[:self.p.neurons] = self.last_spikes
            words = (bits.reshape(-1, 32) << np.arange(32)).sum(axis=1)
            return [int(v) for v in words[sl]]
        if space == Space.NEURON_HIST:
            return [int(v) for v in self._hist_words(self._nring, self.p.neurons)[sl]]
        if space == Space.AXON_HIST:
            return [int(v) for v in self._hist_words(self._aring, self.p.axons)[sl]]
        arr = {Space.BIAS: self.bias, Space.LUT: self.lut, Space.KERNEL: self.kernel,
               Space.SEED: self.seed, Space.REFRACTORY: self.refractory, Space.POTENTIAL: self.potential,
               Space.SPIKE_COUNT: self.spike_count}[space]
        return [int(v) for v in arr[sl]]

    def write(self, space, addr, values):
        """Write ``values`` to ``space`` from ``addr``; all or nothing."""
        space = self._space(space)
        info = space_info(self.p, space)
        if not info.writable:
            raise AccessError(f"{space.name} is read only")
        values = [int(v) for v in values]
        self._bounds(space, addr, len(values))
        sl = slice(addr, addr + len(values))
        if space == Space.CONFIG:
            for i, v in enumerate(values):
                self._check_config(addr + i, v)
            for i, v in enumerate(values):
                self.cfg[Config(addr + i)] = v
            return
        if space == Space.RULES:
            for w in values:
                if not 0 <= w < (1 << info.bits):
                    raise AccessError(f"RULES: words must fit {info.bits} bits")
            decoded = [unpack_rule(self.p, w) for w in values]
            for r in decoded:
                try:
                    pack_rule(self.p, *r)
                except ValueError as e:
                    raise AccessError(f"RULES: {e}") from None
            self.rules[sl] = decoded
            self._derive()
            return
        if space in (Space.NEURON_HIST, Space.AXON_HIST):
            if any(v < 0 or v >> self.p.history for v in values):
                raise AccessError(f"{space.name}: words must fit {self.p.history} bits")
            ring = self._nring if space == Space.NEURON_HIST else self._aring
            self._set_hist(ring, addr, values)
            self._psp = None
            return
        if any(not -(1 << 62) < v < (1 << 62) for v in values):
            raise AccessError(f"{space.name}: values must fit {info.bits}-bit words")
        arr = np.array(values, dtype=np.int64)
        self._check_values(space, addr, arr)
        if space in (Space.WEIGHT, Space.ACC, Space.RULE_INDEX):
            target = {Space.WEIGHT: self.weight, Space.ACC: self.acc,
                      Space.RULE_INDEX: self.rule_index}[space]
            target.ravel()[sl] = arr
            if space != Space.ACC:
                self._derive()
            return
        target = {Space.BIAS: self.bias, Space.LUT: self.lut, Space.KERNEL: self.kernel,
                  Space.SEED: self.seed, Space.REFRACTORY: self.refractory,
                  Space.SPIKE_COUNT: self.spike_count}[space]
        target[sl] = arr.astype(target.dtype)
        if space == Space.KERNEL:
            self._derive()

    # -- network view -------------------------------------------------------
    def block_weights(self, block):
        """Weights of a projection block in network units, shape (post, pre)."""
        post, pre = block.shape
        codes = self.weight[block.axon0:block.axon0 + pre, block.neuron0:block.neuron0 + post]
        return codes.T * block.lsb
