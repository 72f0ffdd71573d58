"""Networks as populations and projections, in network (real-valued) units.

Both golden models take a :class:`Network`; the fixed-point model goes
through :func:`sal_hw.golden.quantize.quantize` first.  Weight matrices are
stored ``(post, pre)`` like ``torch.nn.Linear``: ``u_post += W @ psp_pre``.
"""

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["RULES", "Population", "Projection", "Network", "exp_kernel",
           "pair", "layered", "recurrent", "angle_deg", "layer_angles"]

#: Named plasticity rules as (c_causal, c_anticausal) gain pairs.
RULES = {"off": (0, 0), "sal": (-1, 1), "hebbian": (1, 1)}


@dataclass
class Population:
    name: str
    size: int
    bias: np.ndarray

    def __post_init__(self):
        if not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ValueError(f"population {self.name!r}: size must be a positive integer, "
                             f"not {self.size!r}")
        self.bias = np.broadcast_to(np.asarray(self.bias, dtype=float), (self.size,)).copy()


@dataclass
class Projection:
    """Dense block of synapses from ``pre`` to ``post``.

    ``mask`` marks the synapses that exist (default: all).  ``w_max`` is the
    largest magnitude the weights must be able to reach (it sets the
    fixed-point scale); default: the largest initial magnitude.
    """

    name: str
    pre: str
    post: str
    weights: np.ndarray
    rule: str = "off"
    eta: float = 0.0
    mask: np.ndarray | None = None
    w_max: float | None = None

    def __post_init__(self):
        self.weights = np.array(self.weights, dtype=float)
        if self.weights.ndim != 2:
            raise ValueError(f"projection {self.name!r}: weights must be a 2-D (post, pre) "
                             f"matrix, not shape {self.weights.shape}")
        if self.rule not in RULES:
            raise ValueError(f"projection {self.name!r}: rule must be one of "
                             f"{', '.join(RULES)}, not {self.rule!r}")
        if self.mask is None:
            self.mask = np.ones(self.weights.shape, dtype=bool)
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.mask.shape != self.weights.shape:
            raise ValueError(f"projection {self.name!r}: mask shape {self.mask.shape} "
                             f"differs from weights shape {self.weights.shape}")
        self.weights[~self.mask] = 0.0
        if self.w_max is None:
            self.w_max = float(np.max(np.abs(self.weights), initial=0.0)) or 1.0

    @property
    def gains(self):
        return RULES[self.rule]

    @property
    def plastic(self):
        return self.gains != (0, 0) and self.eta != 0


def exp_kernel(tau, length):
    """k(n) = exp(-n / tau) for n = 1 .. length - 1 (the paper's truncated trace kernel)."""
    n = np.arange(1, length)
    return np.exp(-n / tau)


@dataclass
class Network:
    """A network: populations, projections and the neuron and plasticity settings.

    ``kernel`` holds k(1), k(2), ... ; ``norm`` is the L of ``w += eta * delta / L``.
    """

    populations: list
    projections: list
    tau_ref: int = 10
    tau_syn: int = 10
    kernel: np.ndarray = field(default_factory=lambda: exp_kernel(10, 20))
    norm: int = 20
    seed: int = 1
    name: str = "network"

    def __post_init__(self):
        names = [p.name for p in self.populations]
        if len(set(names)) != len(names):
            raise ValueError(f"population names must be unique, got {names}")
        for pr in self.projections:
            for end in ("pre", "post"):
                if getattr(pr, end) not in names:
                    raise ValueError(f"projection {pr.name!r}: {end} population "
                                     f"{getattr(pr, end)!r} is not defined (have: "
                                     f"{', '.join(names)})")
            want = (self.population(pr.post).size, self.population(pr.pre).size)
            if pr.weights.shape != want:
                raise ValueError(f"projection {pr.name!r}: weights have shape "
                                 f"{pr.weights.shape}, expected (post, pre) = {want}")
        for what in ("tau_ref", "tau_syn", "norm"):
            if int(getattr(self, what)) < 1:
                raise ValueError(f"{what} must be at least 1, not {getattr(self, what)!r}")
        self.kernel = np.asarray(self.kernel, dtype=float)
        if self.kernel.ndim != 1 or np.any(self.kernel < 0):
            raise ValueError("kernel must be a 1-D array of non-negative values")

    def population(self, name):
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    def projection(self, name):
        for p in self.projections:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def size(self):
        return sum(p.size for p in self.populations)

    def offsets(self):
        """First global neuron index of every population."""
        out, base = {}, 0
        for p in self.populations:
            out[p.name] = base
            base += p.size
        return out

    def bias(self):
        return np.concatenate([p.bias for p in self.populations])

    def alignment_pairs(self):
        """Reciprocal (forward, feedback) projection pairs, each once.

        The feedback one is the plastic one when only one is; otherwise the
        top-down one (its pre population comes later in the network), so a
        control run with plasticity off keys its angles like the SAL run.
        Their angle measures alignment.
        """
        order = {p.name: i for i, p in enumerate(self.populations)}
        pairs = set()
        for a in self.projections:
            for b in self.projections:
                if a is b or a.pre != b.post or a.post != b.pre:
                    continue
                if a.plastic != b.plastic:
                    fwd, fb = (b, a) if a.plastic else (a, b)
                else:
                    fwd, fb = sorted((a, b), key=lambda p: (order[p.pre], p.name))
                pairs.add((fwd.name, fb.name))
        return sorted(pairs, key=lambda pair: pair[1])


def _uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, size=shape)


def pair(w=(1.5, 0.5), bias=(-0.5, -0.2), tau=25, eta=0.03, plastic="both", seed=1):
    """Two neurons with reciprocal weights ``w = (w_ab, w_ba)``.

    ``plastic``: ``"both"``, ``"ab"`` (only a -> b learns) or ``"none"``.
    """
    if plastic not in ("both", "ab", "ba", "none"):
        raise ValueError(f"plastic must be both, ab, ba or none, not {plastic!r}")
    rule_ab = "sal" if plastic in ("both", "ab") else "off"
    rule_ba = "sal" if plastic in ("both", "ba") else "off"
    w_max = max(abs(w[0]), abs(w[1]))
    pops = [Population("a", 1, bias[0]), Population("b", 1, bias[1])]
    projs = [Projection("ab", "a", "b", [[w[0]]], rule_ab, eta, w_max=w_max),
             Projection("ba", "b", "a", [[w[1]]], rule_ba, eta, w_max=w_max)]
    return Network(pops, projs, tau_ref=tau, tau_syn=tau, kernel=exp_kernel(tau, 2 * tau),
                   norm=2 * tau, seed=seed, name="pair")


def layered(layers=(64, 64, 32, 10), tau=10, eta=0.05, seed=1, b_rule="sal", name="salnet"):
    """Layered SALNet: W_l (layer l -> l+1, fixed) and B_l (l+1 -> l, plastic).

    Weights and biases are Kaiming-uniform like ``torch.nn.Linear``: bound
    1 / sqrt(fan_in).  Layer 0's bias takes the bound of B_1's fan-in.
    """
    if len(layers) < 2:
        raise ValueError(f"a layered network needs at least 2 layers, not {list(layers)}")
    rng = np.random.default_rng(seed)
    pops = []
    for i, n in enumerate(layers):
        fan_in = layers[i - 1] if i else layers[1]
        pops.append(Population(f"L{i}", int(n), _uniform(rng, 1 / math.sqrt(fan_in), n)))
    projs = []
    for i in range(len(layers) - 1):
        lo, hi = layers[i], layers[i + 1]
        w = _uniform(rng, 1 / math.sqrt(lo), (hi, lo))
        b = _uniform(rng, 1 / math.sqrt(hi), (lo, hi))
        # B must be able to reach W's transpose, so it gets the larger range.
        w_max = max(1 / math.sqrt(lo), 1 / math.sqrt(hi))
        projs.append(Projection(f"W{i + 1}", f"L{i}", f"L{i + 1}", w, "off", 0.0,
                                w_max=1 / math.sqrt(lo)))
        projs.append(Projection(f"B{i + 1}", f"L{i + 1}", f"L{i}", b, b_rule, eta, w_max=w_max))
    return Network(pops, projs, tau_ref=tau, tau_syn=tau, kernel=exp_kernel(tau, 2 * tau),
                   norm=2 * tau, seed=seed, name=name)


def recurrent(n=256, tau=10, eta=0.05, seed=1, rule="sal", name="recurrent"):
    """``n`` neurons all-to-all without self-connections, Kaiming-uniform, one rule on all."""
    rng = np.random.default_rng(seed)
    bound = 1 / math.sqrt(n - 1)
    mask = ~np.eye(n, dtype=bool)
    pops = [Population("N", n, _uniform(rng, bound, n))]
    projs = [Projection("R", "N", "N", _uniform(rng, bound, (n, n)), rule, eta, mask=mask,
                        w_max=2 * bound)]
    return Network(pops, projs, tau_ref=tau, tau_syn=tau, kernel=exp_kernel(tau, 2 * tau),
                   norm=2 * tau, seed=seed, name=name)


def angle_deg(w, b):
    """Angle in degrees between forward ``w`` (post, pre) and feedback ``b`` transposed."""
    w = np.asarray(w, dtype=float)
    b = np.asarray(b, dtype=float)
    denom = np.linalg.norm(w) * np.linalg.norm(b)
    if denom == 0:
        return 90.0
    return float(np.degrees(np.arccos(np.clip(np.sum(w * b.T) / denom, -1.0, 1.0))))


def layer_angles(net, weights):
    """Angle of every (W, B) pair of ``net``; ``weights`` maps projection name -> matrix."""
    return {b: angle_deg(weights[w], weights[b]) for w, b in net.alignment_pairs()}
