"""Bit-exact model of the multi-core chip: K cores, a spike router and an inject queue.

A :class:`FixedChip` holds ``K`` :class:`~.fixed.FixedCore` s of the same
build-time parameters and runs them in lock step (docs/spec.md section 3):
every core fires, the router delivers every spike as address events to the
axons its routing table lists (the spiking neuron's own core included) and
adds the externally injected axon spikes of this step, then every core
learns with the axon spikes it received.

The routing table and the chip's counters are host-visible as chip-level
memory spaces (:class:`ChipSpace`; the protocol addresses them as core
``0xFF``).  docs/protocol.md ("Chip-level spaces") is the normative
description of their layout and of the reset state; this module implements it.

:func:`place` splits a :class:`~.network.Network` over ``K`` cores and
builds the routing table; because every neuron's firing PRNG is seeded from
the network alone (docs/spec.md section 6), a placed network produces the
same spike trains and weights on any number of cores.
"""

import math
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np

from .fixed import AccessError, FixedCore
from .params import CoreParams
from .prng import derive_seed
from .quantize import SEED_STREAM_FIRE, CoreImage, quantize
from .spaces import Config, Space, SpaceInfo

__all__ = ["ChipSpace", "Status", "FixedChip", "AccessError", "chip_space_info",
           "empty_image", "pack_route_index", "unpack_route_index", "pack_route_dest",
           "unpack_route_dest", "single_core_routes", "Placement", "place",
           "MAX_CORES", "MAX_ROUTE_ENTRIES", "MAX_INJECT_DEPTH", "ROUTE_WORD_BITS",
           "STATUS_BITS"]

#: core number 0xFF addresses the chip-level spaces, so a chip has at most 255 cores
MAX_CORES = 255
#: a route start is 16 bits and start + count <= D
MAX_ROUTE_ENTRIES = 1 << 16
#: the number of pending injected events travels as a u16
MAX_INJECT_DEPTH = (1 << 16) - 1
#: ROUTE_INDEX and ROUTE_DEST words
ROUTE_WORD_BITS = 24
#: STATUS words
STATUS_BITS = 32

_M32 = (1 << 32) - 1


class ChipSpace(IntEnum):
    """Chip-level memory spaces (protocol: core 0xFF)."""

    ROUTE_INDEX = 0   # [c * N + n] bits 0-15 start, bits 16-23 count
    ROUTE_DEST = 1    # [e] bits 0-15 axon, bits 16-23 destination core
    STATUS = 2        # [i] read-only counters, see Status


class Status(IntEnum):
    """Words of the read-only STATUS space (32-bit, saturating)."""

    STEP_COUNT = 0        # chip steps run
    EVENTS_ROUTED = 1     # router deliveries: one per destination entry per spike
    EVENTS_INJECTED = 2   # injected events delivered (one per queued event)
    INJECT_PENDING = 3    # injected events waiting in the queue
    FRAMES_ACCEPTED = 4   # host-link requests executed and ACKed
    FRAMES_REJECTED = 5   # host-link frames answered with a NAK
    FRAMES_REPEATED = 6   # host-link requests answered from the retransmission store


def chip_space_info(space, cores, neurons, route_entries):
    """Depth, word width, signedness and writability of a chip-level space."""
    space = ChipSpace(space)
    table = {
        ChipSpace.ROUTE_INDEX: (cores * neurons, ROUTE_WORD_BITS, False, True),
        ChipSpace.ROUTE_DEST: (route_entries, ROUTE_WORD_BITS, False, True),
        ChipSpace.STATUS: (len(Status), STATUS_BITS, False, False),
    }
    depth, bits, signed, writable = table[space]
    return SpaceInfo(space, depth, bits, signed, writable)


def pack_route_index(start, count):
    """ROUTE_INDEX word: entries ``start .. start + count - 1`` (start < 2**16, count < 256)."""
    if not (0 <= start <= 0xFFFF and 0 <= count <= 0xFF):
        raise ValueError(f"route start {start!r} / count {count!r} outside 0..65535 / 0..255")
    return start | (count << 16)


def unpack_route_index(word):
    """(start, count) of a ROUTE_INDEX word."""
    return word & 0xFFFF, (word >> 16) & 0xFF


def pack_route_dest(core, axon):
    """ROUTE_DEST word: axon ``axon`` of core ``core``."""
    if not (0 <= core <= 0xFF and 0 <= axon <= 0xFFFF):
        raise ValueError(f"route core {core!r} / axon {axon!r} outside 0..255 / 0..65535")
    return axon | (core << 16)


def unpack_route_dest(word):
    """(core, axon) of a ROUTE_DEST word."""
    return (word >> 16) & 0xFF, word & 0xFFFF


def _sat32(x):
    return min(x, _M32)


def empty_image(params):
    """The reset state of a core on the chip (docs/protocol.md, "Reset state").

    Every word is 0 except TAU_REF = TAU_SYN = 1 (the RTL's reset values)
    and SEED[n] = n + 1 (a valid, non-zero xorshift32 state).  With an
    all-zero LUT no neuron fires until the host loads a network.
    """
    p = params
    A, N, H = p.axons, p.neurons, p.history
    config = {Config.TAU_REF: 1, Config.TAU_SYN: 1, Config.LUT_SHIFT: 0,
              Config.APPLY_PERIOD: 0, Config.PHASE_COUNT: 0, Config.STEP_COUNT: 0,
              Config.APPLY_COUNT: 0}
    z = np.zeros((A, N), dtype=np.int64)
    return CoreImage(
        params=p, config=config, weight=z, acc=z.copy(), rule_index=z.copy(),
        rules=[(0, 0, 0, 0)] * p.rules, bias=np.zeros(N, dtype=np.int64),
        lut=np.zeros(p.lut_depth, dtype=np.int64), kernel=np.zeros(H, dtype=np.int64),
        seed=np.arange(1, N + 1, dtype=np.uint32),
        axon_source=np.full(A, -1, dtype=np.int64))


def single_core_routes(neurons, axon_source=None):
    """Routing table of a single-core chip: (route_index words, route_dest words).

    Neuron ``axon_source[a]`` drives axon ``a`` (``-1``: the axon has no
    source), as in :class:`~.quantize.CoreImage`; default: neuron ``n``
    drives axon ``n`` for every ``n < neurons`` (the identity).  Entries are
    allocated in neuron order, each neuron's destinations in axon order.
    """
    if axon_source is None:
        axon_source = np.arange(neurons)
    axon_source = np.asarray(axon_source, dtype=np.int64)
    index, dest = [], []
    for n in range(neurons):
        axons = np.flatnonzero(axon_source == n)
        if len(axons) > 0xFF:
            raise ValueError(f"neuron {n} drives {len(axons)} axons; a route holds at most 255")
        index.append(pack_route_index(len(dest), len(axons)) if len(axons) else 0)
        dest.extend(pack_route_dest(0, int(a)) for a in axons)
    return index, dest


class FixedChip:
    """K cores, a spike router and an external-input queue, stepping in lock step.

    Parameters
    ----------
    params : CoreParams
        Build-time parameters shared by every core.
    cores : int or sequence of CoreImage / FixedCore
        K (cores start in the reset state, :func:`empty_image`) or the
        cores' initial states.  A core image's ``axon_source`` is ignored:
        on the chip only the router feeds axons.
    route_entries : int
        Depth D of ROUTE_DEST (1 .. 65536).
    inject_depth : int
        Capacity of the inject queue in events (1 .. 65535).
    lanes : int
        Synapse lanes of the RTL build.  Reported by INFO only; it does not
        change any result.
    """

    def __init__(self, params, cores, route_entries=4096, inject_depth=256, lanes=1):
        if not isinstance(params, CoreParams):
            raise TypeError("params must be a CoreParams")
        if isinstance(cores, (int, np.integer)):
            K = int(cores)
            if not 1 <= K <= MAX_CORES:
                raise ValueError(f"a chip has 1..{MAX_CORES} cores, not {K}")
            self.cores = [FixedCore(empty_image(params)) for _ in range(K)]
        else:
            cores = list(cores)
            if not 1 <= len(cores) <= MAX_CORES:
                raise ValueError(f"a chip has 1..{MAX_CORES} cores, not {len(cores)}")
            built = []
            for c in cores:
                core = c if isinstance(c, FixedCore) else FixedCore(c)
                if core.p != params:
                    raise ValueError("every core must have the chip's CoreParams")
                built.append(core)
            self.cores = built
        if not 1 <= route_entries <= MAX_ROUTE_ENTRIES:
            raise ValueError(f"route_entries must be 1..{MAX_ROUTE_ENTRIES}, not {route_entries}")
        if not 1 <= inject_depth <= MAX_INJECT_DEPTH:
            raise ValueError(f"inject_depth must be 1..{MAX_INJECT_DEPTH}, not {inject_depth}")
        if not 1 <= lanes <= 0xFFFF:
            raise ValueError(f"lanes must be 1..65535, not {lanes}")
        self.p = params
        self.K = len(self.cores)
        self.route_entries = int(route_entries)
        self.inject_depth = int(inject_depth)
        self.lanes = int(lanes)
        self.route_index = np.zeros(self.K * params.neurons, dtype=np.int64)
        self.route_dest = np.zeros(self.route_entries, dtype=np.int64)
        self.step_count = 0
        self.events_routed = 0
        self.events_injected = 0
        # host-link counters, kept by the chip's host interface (golden: ChipEmulator)
        self.frames_accepted = 0
        self.frames_rejected = 0
        self.frames_repeated = 0
        self._queue = {}         # step -> [(core, axon), ...] in arrival order
        self._pending = 0
        self._edges = None       # derived (src, dst core, dst axon) arrays

    @classmethod
    def from_image(cls, image, route_entries=4096, inject_depth=256, lanes=1):
        """A one-core chip that behaves like ``FixedCore(image).step()``.

        Its routing table is :func:`single_core_routes` of the image's
        ``axon_source``.
        """
        chip = cls(image.params, [image], route_entries=route_entries,
                   inject_depth=inject_depth, lanes=lanes)
        index, dest = single_core_routes(image.params.neurons, image.axon_source)
        chip.load_routes(index, dest)
        return chip

    # -- spaces ------------------------------------------------------------------
    def space_info(self, space):
        return chip_space_info(space, self.K, self.p.neurons, self.route_entries)

    def _space(self, space):
        try:
            return ChipSpace(space)
        except ValueError:
            raise AccessError(f"no chip space {space!r} (valid: 0..{len(ChipSpace) - 1})") \
                from None

    def _bounds(self, space, addr, count):
        info = self.space_info(space)
        if addr < 0 or count < 0 or addr + count > info.depth:
            raise AccessError(f"{space.name}: addresses {addr}..{addr + count - 1} outside "
                              f"0..{info.depth - 1}")
        return info

    def status_words(self):
        return [_sat32(self.step_count), _sat32(self.events_routed),
                _sat32(self.events_injected), self._pending, _sat32(self.frames_accepted),
                _sat32(self.frames_rejected), _sat32(self.frames_repeated)]

    def read(self, space, addr=0, count=None):
        """Read ``count`` words of chip space ``space`` from ``addr``."""
        space = self._space(space)
        info = self.space_info(space)
        count = info.depth - addr if count is None else count
        self._bounds(space, addr, count)
        if space == ChipSpace.ROUTE_INDEX:
            words = self.route_index
        elif space == ChipSpace.ROUTE_DEST:
            words = self.route_dest
        else:
            words = self.status_words()
        return [int(v) for v in words[addr:addr + count]]

    def check_write(self, space, addr, values):
        """Raise :class:`AccessError` if ``write(space, addr, values)`` would be refused."""
        space = self._space(space)
        info = self.space_info(space)
        if not info.writable:
            raise AccessError(f"{space.name} is read only")
        self._bounds(space, addr, len(values))
        for i, v in enumerate(values):
            if not 0 <= v < (1 << ROUTE_WORD_BITS):
                raise AccessError(f"{space.name}[{addr + i}]: {v!r} does not fit "
                                  f"{ROUTE_WORD_BITS} bits")
            if space == ChipSpace.ROUTE_INDEX:
                start, count = unpack_route_index(v)
                if start + count > self.route_entries:
                    raise AccessError(f"ROUTE_INDEX[{addr + i}]: entries {start}.."
                                      f"{start + count - 1} outside 0..{self.route_entries - 1}")
            else:
                core, axon = unpack_route_dest(v)
                if core >= self.K:
                    raise AccessError(f"ROUTE_DEST[{addr + i}]: core {core} >= {self.K}")
                if axon >= self.p.axons:
                    raise AccessError(f"ROUTE_DEST[{addr + i}]: axon {axon} >= {self.p.axons}")

    def write(self, space, addr, values):
        """Write ``values`` to chip space ``space`` from ``addr``; all or nothing."""
        values = [int(v) for v in values]
        self.check_write(space, addr, values)
        target = self.route_index if ChipSpace(space) == ChipSpace.ROUTE_INDEX else self.route_dest
        target[addr:addr + len(values)] = values
        self._edges = None

    def load_routes(self, index, dest):
        """Write a whole routing table: ROUTE_INDEX from 0, ROUTE_DEST from 0."""
        index, dest = list(index), list(dest)
        if len(index) != self.K * self.p.neurons:
            raise ValueError(f"route index needs {self.K * self.p.neurons} words, "
                             f"not {len(index)}")
        if len(dest) > self.route_entries:
            raise ValueError(f"the routing table needs {len(dest)} entries; this chip has "
                             f"{self.route_entries}")
        self.check_write(ChipSpace.ROUTE_DEST, 0, dest)
        # Validate the index against the new dest table size before touching anything.
        self.check_write(ChipSpace.ROUTE_INDEX, 0, index)
        self.write(ChipSpace.ROUTE_DEST, 0, dest)
        self.write(ChipSpace.ROUTE_INDEX, 0, index)

    # -- injection ------------------------------------------------------------------
    @property
    def inject_pending(self):
        return self._pending

    def check_inject(self, step, core, axons):
        """Raise :class:`AccessError` if ``inject(step, core, axons)`` would be refused."""
        if not 0 <= core < self.K:
            raise AccessError(f"inject: no core {core} (chip has {self.K})")
        for a in axons:
            if not 0 <= a < self.p.axons:
                raise AccessError(f"inject: axon {a} outside 0..{self.p.axons - 1}")
        if not self.step_count <= step <= _M32:
            raise AccessError(f"inject: step {step} is in the past (chip step "
                              f"{self.step_count}) or beyond 2**32 - 1")
        if self._pending + len(axons) > self.inject_depth:
            raise AccessError(f"inject: queue full ({self._pending} of {self.inject_depth} "
                              f"events pending, {len(axons)} more)")

    def inject(self, step, core, axons):
        """Queue external spikes on ``axons`` of ``core`` for absolute chip step ``step``.

        ``step`` counts like STEP_COUNT: the next step run is step
        ``step_count``.  Each listed axon is one queue event (a repeat
        takes a slot too).  All or nothing.
        """
        axons = [int(a) for a in axons]
        step, core = int(step), int(core)
        self.check_inject(step, core, axons)
        self._queue.setdefault(step, []).extend((core, a) for a in axons)
        self._pending += len(axons)

    def pending_events(self):
        """The inject queue as a sorted list of (step, core, axon), repeats kept."""
        return sorted((s, c, a) for s, events in self._queue.items() for c, a in events)

    # -- the step -------------------------------------------------------------------
    def _routes(self):
        if self._edges is None:
            start = self.route_index & 0xFFFF
            count = (self.route_index >> 16) & 0xFF
            src = np.repeat(np.arange(len(count)), count)
            first = np.cumsum(count) - count
            entry = start[src] + (np.arange(len(src)) - first[src])
            dest = self.route_dest[entry]
            self._edges = (src, (dest >> 16) & 0xFF, dest & 0xFFFF)
        return self._edges

    def step(self):
        """One chip step; returns the neuron spikes, bool (K, N)."""
        K, N, A = self.K, self.p.neurons, self.p.axons
        t = self.step_count
        spikes = np.zeros((K, N), dtype=bool)
        for c, core in enumerate(self.cores):
            spikes[c] = core.fire()
        src, dcore, daxon = self._routes()
        axon_spikes = np.zeros((K, A), dtype=bool)
        hit = spikes.ravel()[src]
        axon_spikes[dcore[hit], daxon[hit]] = True
        self.events_routed = _sat32(self.events_routed + int(hit.sum()))
        events = self._queue.pop(t, [])
        for c, a in events:
            axon_spikes[c, a] = True
        self._pending -= len(events)
        self.events_injected = _sat32(self.events_injected + len(events))
        for c, core in enumerate(self.cores):
            core.learn(spikes[c], axon_spikes[c])
        self.step_count = _sat32(t + 1)
        return spikes

    def run(self, steps):
        """Run ``steps`` steps; returns the spike raster, bool (steps, K, N)."""
        raster = np.zeros((steps, self.K, self.p.neurons), dtype=bool)
        for t in range(steps):
            raster[t] = self.step()
        return raster

    def apply(self, core=None):
        """The apply (docs/spec.md section 4) on one core, or on every core."""
        for c in (range(self.K) if core is None else [core]):
            self.cores[c].apply()

    # -- whole state --------------------------------------------------------------------
    def snapshot(self):
        """Every host-visible word and the inject queue, for exact comparisons.

        Host-link counters (FRAMES_*) are left out: they count traffic,
        not chip state.
        """
        out = {}
        for c, core in enumerate(self.cores):
            for s in Space:
                out[(c, s.name)] = core.read(s)
        out["ROUTE_INDEX"] = self.read(ChipSpace.ROUTE_INDEX)
        out["ROUTE_DEST"] = self.read(ChipSpace.ROUTE_DEST)
        out["STATUS"] = self.read(ChipSpace.STATUS, 0, Status.FRAMES_ACCEPTED)
        out["QUEUE"] = self.pending_events()
        return out


# -- placement ---------------------------------------------------------------------------
@dataclass
class Placement:
    """A network split over K cores: core images, routing table and the index maps.

    ``neuron_core[g]``, ``neuron_local[g]``: where global neuron ``g`` (the
    network's order, as :meth:`~.network.Network.offsets`) lives.
    ``axon_pre[c][a]``: the global neuron whose spikes axon ``a`` of core
    ``c`` carries (``-1``: unused).  ``image`` is the single-core
    quantization whose codes every core image is cut from.
    """

    params: CoreParams
    cores: int
    block: int
    images: list
    route_index: list
    route_dest: list
    neuron_core: np.ndarray
    neuron_local: np.ndarray
    axon_pre: list
    image: CoreImage

    @property
    def size(self):
        return len(self.neuron_core)

    def chip(self, route_entries=4096, inject_depth=256, lanes=1):
        """A :class:`FixedChip` loaded with this placement."""
        chip = FixedChip(self.params, self.images, route_entries=route_entries,
                         inject_depth=inject_depth, lanes=lanes)
        chip.load_routes(self.route_index, self.route_dest)
        return chip

    def global_spikes(self, spikes):
        """Chip spikes (..., K, N) to network order (..., size)."""
        spikes = np.asarray(spikes)
        return spikes[..., self.neuron_core, self.neuron_local]

    def global_synapses(self, chip, space=Space.WEIGHT):
        """A synapse space (WEIGHT, ACC, RULE_INDEX) as a (size, size) [pre, post] matrix.

        Pairs without a synapse (no axon for the pre neuron on the post
        neuron's core) read as 0.
        """
        out = np.zeros((self.size, self.size), dtype=np.int64)
        N = self.params.neurons
        for c in range(self.cores):
            posts = np.flatnonzero(self.neuron_core == c)
            if not posts.size:
                continue
            mat = np.array(chip.cores[c].read(space), dtype=np.int64).reshape(-1, N)
            for a, g in enumerate(self.axon_pre[c]):
                if g >= 0:
                    out[g, posts] = mat[a, self.neuron_local[posts]]
        return out


def place(net, params=None, cores=1, lut_shift=8, apply_period=None):
    """Split ``net`` over ``cores`` cores of build parameters ``params``.

    Neurons go in contiguous blocks of ``ceil(size / cores)`` in network
    order (core c holds neurons ``c·B .. c·B + B − 1``).  Every synapse sits
    on its post neuron's core; each core gets one axon per distinct pre
    neuron that has a synapse there, in increasing global order.  Weights,
    rules, kernel, LUT, bias and configuration are the single-core
    quantization's (:func:`~.quantize.quantize`), and neuron ``g`` keeps the
    firing seed ``derive_seed(net.seed, 0, g)``; unused neuron slots get no
    synapses, the most negative bias, no routes and the seed
    ``derive_seed(net.seed, 0, size + c·N + n)``.  Spike ``g`` is routed to
    its axon on every core that uses it, cores in increasing order; route
    entries are allocated in (core, neuron) order.
    """
    size = net.size
    p = params or CoreParams()
    K = int(cores)
    if not 1 <= K <= MAX_CORES:
        raise ValueError(f"a chip has 1..{MAX_CORES} cores, not {K}")
    B = math.ceil(size / K)
    N, A = p.neurons, p.axons
    if B > N:
        raise ValueError(f"network {net.name!r}: {size} neurons over {K} cores needs {B} "
                         f"neurons per core; the core has {N}")
    gp = replace(p, neurons=size, axons=size)
    image = quantize(net, params=gp, lut_shift=lut_shift, apply_period=apply_period)
    neuron_core = np.arange(size) // B
    neuron_local = np.arange(size) % B
    # (pre, post) pairs that matter: a plastic rule or a non-zero weight (a
    # fixed projection with w_exp 0 shares rule 0 with "no synapse")
    exists = (image.rule_index != 0) | (image.weight != 0)
    blo = p.bias_range[0]
    images, axon_pre = [], []
    for c in range(K):
        posts = np.flatnonzero(neuron_core == c)
        pres = np.flatnonzero(exists[:, posts].any(axis=1)) if posts.size else np.zeros(0, int)
        if len(pres) > A:
            raise ValueError(f"network {net.name!r}: core {c} needs {len(pres)} axons; the "
                             f"core has {A}")
        weight = np.zeros((A, N), dtype=np.int64)
        rule_index = np.zeros((A, N), dtype=np.int64)
        local = neuron_local[posts]
        weight[np.ix_(np.arange(len(pres)), local)] = image.weight[np.ix_(pres, posts)]
        rule_index[np.ix_(np.arange(len(pres)), local)] = image.rule_index[np.ix_(pres, posts)]
        bias = np.full(N, blo, dtype=np.int64)
        bias[local] = image.bias[posts]
        seed = np.array([derive_seed(net.seed, SEED_STREAM_FIRE, size + c * N + n)
                         for n in range(N)], dtype=np.uint32)
        seed[local] = image.seed[posts]
        pre_of = np.full(A, -1, dtype=np.int64)
        pre_of[:len(pres)] = pres
        axon_pre.append(pre_of)
        images.append(CoreImage(
            params=p, config=dict(image.config), weight=weight,
            acc=np.zeros((A, N), dtype=np.int64), rule_index=rule_index,
            rules=list(image.rules) + [(0, 0, 0, 0)] * (p.rules - len(image.rules)),
            bias=bias, lut=image.lut.copy(), kernel=image.kernel.copy(), seed=seed,
            axon_source=np.full(A, -1, dtype=np.int64),
            report=dict(image.report)))
    # axon of global neuron g on core d, if any
    axon_of = [{int(g): a for a, g in enumerate(pre_of) if g >= 0} for pre_of in axon_pre]
    route_index = [0] * (K * N)     # start 0, count 0: no destinations
    route_dest = []
    for c in range(K):
        for n in range(N):
            gs = np.flatnonzero((neuron_core == c) & (neuron_local == n))
            dests = []
            if gs.size:
                g = int(gs[0])
                dests = [(d, axon_of[d][g]) for d in range(K) if g in axon_of[d]]
            if dests:
                if len(route_dest) + len(dests) > MAX_ROUTE_ENTRIES:
                    raise ValueError(f"network {net.name!r} needs more than "
                                     f"{MAX_ROUTE_ENTRIES} route entries")
                route_index[c * N + n] = pack_route_index(len(route_dest), len(dests))
                route_dest.extend(pack_route_dest(d, a) for d, a in dests)
    return Placement(params=p, cores=K, block=B, images=images, route_index=route_index,
                     route_dest=route_dest, neuron_core=neuron_core,
                     neuron_local=neuron_local, axon_pre=axon_pre, image=image)
