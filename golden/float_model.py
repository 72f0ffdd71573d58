"""Float reference of the paper's equations: continuous sigmoid, real weights, same traces.

It shows what the SAL algorithm learns, free of quantization; the
fixed-point model is checked against it statistically, never bit for bit.
Same step order as the fixed-point model (docs/spec.md section 3):

    u_i   = b_i + sum_j w_ij psp_j           psp_j = 1 if j spiked in t-tau_syn .. t-1
    s_i   = not refractory and rand < sigmoid(u_i - ln tau_ref)
    D_ij += c_causal s_i X_j + c_anticausal s_j Y_i     X, Y = sum_n k(n) s(t-n)
    apply: w_ij += eta D_ij / L, D <- 0
"""

import math

import numpy as np

__all__ = ["FloatModel"]


class FloatModel:
    """The whole network as one dense (post, pre) matrix, in float64."""

    def __init__(self, net, seed=None, apply_period=None):
        self.net = net
        n = net.size
        self.rng = np.random.default_rng(net.seed if seed is None else seed)
        self.bias = net.bias()
        self.w = np.zeros((n, n))
        self.gain_c = np.zeros((n, n))
        self.gain_a = np.zeros((n, n))
        self.eta = np.zeros((n, n))
        self.slices = {}
        offs = net.offsets()
        for pr in net.projections:
            rows = slice(offs[pr.post], offs[pr.post] + pr.weights.shape[0])
            cols = slice(offs[pr.pre], offs[pr.pre] + pr.weights.shape[1])
            self.slices[pr.name] = (rows, cols)
            self.w[rows, cols] = pr.weights
            if pr.plastic:
                self.gain_c[rows, cols] = np.where(pr.mask, pr.gains[0], 0.0)
                self.gain_a[rows, cols] = np.where(pr.mask, pr.gains[1], 0.0)
                self.eta[rows, cols] = np.where(pr.mask, pr.eta, 0.0)
        self.plastic = bool(np.any(self.gain_c) or np.any(self.gain_a))
        self.delta = np.zeros((n, n))
        self.kernel = np.asarray(net.kernel, dtype=float)
        self.krev = self.kernel[::-1]
        # row -1 holds s(t-1), row -2 s(t-2), ...
        self.hist = np.zeros((max(len(self.kernel), net.tau_syn), n))
        self.refractory = np.zeros(n, dtype=np.int64)
        self.offset = math.log(net.tau_ref)
        self.apply_period = apply_period
        self.steps = 0
        self.spike_count = np.zeros(n, dtype=np.int64)

    def step(self):
        net = self.net
        psp = self.hist[-net.tau_syn:].any(axis=0)
        u = self.bias + self.w @ psp
        prob = 1.0 / (1.0 + np.exp(-(u - self.offset)))
        spikes = (self.refractory == 0) & (self.rng.random(u.shape[0]) < prob)
        self.refractory = np.where(spikes, net.tau_ref - 1, np.maximum(self.refractory - 1, 0))
        if self.plastic:
            post = np.flatnonzero(spikes)
            if post.size:
                trace = self.krev @ self.hist[-len(self.kernel):]
                self.delta[post, :] += self.gain_c[post, :] * trace[None, :]
                self.delta[:, post] += self.gain_a[:, post] * trace[:, None]
        self.hist = np.roll(self.hist, -1, axis=0)
        self.hist[-1] = spikes
        self.spike_count += spikes
        self.steps += 1
        if self.apply_period and self.steps % self.apply_period == 0:
            self.apply()
        return spikes

    def run(self, steps):
        raster = np.zeros((steps, self.w.shape[0]), dtype=bool)
        for t in range(steps):
            raster[t] = self.step()
        return raster

    def apply(self):
        self.w += self.eta * self.delta / self.net.norm
        self.delta[:] = 0.0

    def weights(self, name):
        rows, cols = self.slices[name]
        return self.w[rows, cols].copy()
