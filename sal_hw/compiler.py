"""Compile a network for a chip: place it on the chip's cores, check that it fits, map back.

    info = chip.info                                   # a golden.protocol.ChipInfo
    compiled = compile_network("examples/salnet-s.yaml", info)
    print(describe_fit(compiled))
    chip.load(compiled.chip())                         # nothing is sent before this
    chip.run(1000)
    w1 = compiled.weights_of({c: chip.read(c, Space.WEIGHT) for c in range(info.cores)}, "W1")

:func:`compile_network` splits the network over the chip's cores with
:func:`sal_hw.golden.chip.place` (contiguous blocks of ``ceil(size / K)``
neurons in network order, every synapse on its post neuron's core, one
axon per distinct pre neuron a core needs) and checks every resource before
anything reaches a chip: neurons, axons and synapses per core, route
entries, rule-table entries, the fixed-point formats and, for a network
file with a schedule, the inject queue.  A network that does not fit raises
:class:`CompileError`, which names the resource, the core, by how much it is
exceeded and what would fit.

:class:`Compiled` holds the :class:`~sal_hw.golden.chip.Placement`, the
quantization report per projection and the resources used, and maps chip
words back to the network: :meth:`Compiled.weights_of` (WEIGHT words to a
projection's weights in network units), :meth:`Compiled.spike_counts`
(SPIKE_COUNT words to network order) and :meth:`Compiled.inject_targets`
(a population's neurons to the (core, axons) an INJECT must name).
"""

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .golden.chip import (MAX_CORES, MAX_ROUTE_ENTRIES, FixedChip, Placement, empty_image,
                          place)
from .golden.network import Network
from .golden.quantize import quantize
from .golden.spaces import Space

__all__ = ["CompileError", "Resource", "Compiled", "compile_network", "describe_fit",
           "MAX_NETWORK_NEURONS"]

#: place() quantizes the whole network as one image of a core of the network's size,
#: and a core has at most 4096 neurons (CoreParams): the largest network it compiles.
MAX_NETWORK_NEURONS = 4096


class CompileError(ValueError):
    """A network that does not fit the chip.

    Attributes: ``resource`` (for example ``"axons per core"``), ``core``
    (the core that overflows, or None for a chip-wide resource), ``needed``,
    ``available`` (None when the resource is not a count) and
    ``suggestion`` (what would fit, or None).
    """

    def __init__(self, network, resource, problem, suggestion=None, core=None, needed=None,
                 available=None):
        self.network = network
        self.resource = resource
        self.problem = problem
        self.suggestion = suggestion
        self.core = core
        self.needed = needed
        self.available = available
        text = f"network {network!r} does not fit the chip: {resource}: {problem}"
        if suggestion:
            text += f"; {suggestion}"
        super().__init__(text)


@dataclass(frozen=True)
class Resource:
    """One resource of the chip: how much the network uses and how much there is.

    For a per-core resource ``used`` is the most any core uses, ``core``
    that core and ``per_core`` every core's use; for a chip-wide one
    ``core`` is None.
    """

    name: str
    used: int
    available: int
    core: int | None = None
    per_core: tuple = ()

    @property
    def fits(self):
        return self.used <= self.available

    @property
    def spare(self):
        return self.available - self.used


def _usage(exists, size, K):
    """Per-core (neurons, axons, synapses) and route entries of a contiguous placement on K cores.

    ``exists[g, h]``: neuron g has a synapse onto neuron h (place()'s rule).
    """
    B = math.ceil(size / K)
    starts = np.arange(0, size, B)
    used = len(starts)                       # cores that get neurons (the rest stay empty)
    reach = np.logical_or.reduceat(exists, starts, axis=1)     # (size, used): g reaches core c
    axons = reach.sum(axis=0)
    synapses = np.add.reduceat(exists.sum(axis=0), starts)
    neurons = np.diff(np.append(starts, size))
    pad = [0] * (K - used)
    return (np.append(neurons, pad).astype(int), np.append(axons, pad).astype(int),
            np.append(synapses, pad).astype(int), int(reach.sum()))


class _WordChip:
    """Per-core words of one space, shaped like FixedChip.cores[c].read for global_synapses."""

    class _Core:
        def __init__(self, words):
            self.words = words

        def read(self, space):
            return self.words

    def __init__(self, cores):
        self.cores = [self._Core(w) for w in cores]


@dataclass
class Compiled:
    """A network placed on a chip, ready to load.

    ``placement``: the :class:`~sal_hw.golden.chip.Placement` on the cores
    used (``cores_used`` of the chip's ``chip_info.cores``; the others stay
    empty).  ``report``: per projection (``report["projections"][name]``)
    its ``pre``, ``post``, ``shape``, ``synapses``, ``rule``, the weight
    ``lsb`` (network units per code: the scale), ``w_exp`` (the exponent,
    lsb = 2**(w_exp - u_frac)), ``max_abs_error``, ``mean_abs_error``,
    ``rms_error`` (network units), ``max_error_lsb``, ``clipped`` (weights
    beyond the code range) and ``eta_relative_error``; and
    ``report["kernel_scale"]``.  ``fits``: :class:`Resource` by name, in the
    order :func:`describe_fit` prints them.
    """

    network: Network
    chip_info: object
    placement: Placement
    report: dict
    fits: dict
    lut_shift: int = 8
    apply_period: int = 0
    netfile: object = None
    schedule_events: list = field(default_factory=list)   # (action, events) per inject

    @property
    def cores_used(self):
        return self.placement.cores

    @property
    def params(self):
        return self.chip_info.params

    # -- loading -------------------------------------------------------------------------
    def chip(self):
        """A :class:`~sal_hw.golden.chip.FixedChip` of the chip's shape holding the network.

        This is what ``driver.Chip.load`` sends; it is also a golden model
        of the chip to run and compare against.
        """
        info, p = self.chip_info, self.chip_info.params
        extra = info.cores - self.placement.cores
        images = list(self.placement.images) + [empty_image(p) for _ in range(extra)]
        chip = FixedChip(p, images, route_entries=info.route_entries,
                         inject_depth=info.inject_depth, lanes=getattr(info, "lanes", 1))
        chip.load_routes(list(self.placement.route_index) + [0] * (extra * p.neurons),
                         self.placement.route_dest)
        return chip

    # -- mapping back --------------------------------------------------------------------
    def _projection(self, projection):
        return self._lookup("projection", projection, self.network.projection,
                            self.network.projections)

    def _population(self, population):
        return self._lookup("population", population, self.network.population,
                            self.network.populations)

    @staticmethod
    def _lookup(kind, item, get, items):
        """``get(name)`` of an object or its name; KeyError naming the valid ones."""
        name = getattr(item, "name", item)
        try:
            return get(name)
        except KeyError:
            raise KeyError(f"no {kind} {name!r} (have: "
                           f"{', '.join(x.name for x in items)})") from None

    def _words(self, words_by_core, space, depth):
        """Per-core word arrays of ``space`` for the cores used, from whatever the caller has."""
        K = self.placement.cores
        if hasattr(words_by_core, "cores") and hasattr(words_by_core, "step"):   # a FixedChip
            words_by_core = [core.read(space) for core in words_by_core.cores]
        if isinstance(words_by_core, dict):
            missing = [c for c in range(K) if c not in words_by_core
                       and np.any(self.placement.neuron_core == c)]
            if missing:
                raise ValueError(f"{space.name} words of core {missing[0]} are missing; the "
                                 f"network has neurons on cores 0..{K - 1}")
            words_by_core = [words_by_core.get(c, np.zeros(depth, dtype=np.int64))
                             for c in range(K)]
        words = list(words_by_core)
        if len(words) < K:
            raise ValueError(f"{space.name} words of {len(words)} cores; the network uses {K}")
        out = []
        for c in range(K):
            w = np.asarray(words[c], dtype=np.int64).ravel()
            if w.size != depth:
                raise ValueError(f"core {c}: {w.size} {space.name} words; the space holds {depth}")
            out.append(w)
        return out

    def codes_of(self, chip_words_by_core, projection):
        """A projection's weight codes, shape (post, pre), from the cores' WEIGHT words."""
        pr = self._projection(projection)
        p = self.params
        words = self._words(chip_words_by_core, Space.WEIGHT, p.axons * p.neurons)
        full = self.placement.global_synapses(_WordChip(words), Space.WEIGHT)   # [pre, post]
        offs = self.network.offsets()
        post, pre = pr.weights.shape
        block = full[offs[pr.pre]:offs[pr.pre] + pre, offs[pr.post]:offs[pr.post] + post].T
        return np.where(pr.mask, block, 0)

    def weights_of(self, chip_words_by_core, projection):
        """A projection's weights in network units, shape (post, pre), from WEIGHT words.

        ``chip_words_by_core``: the WEIGHT words of every core the network
        uses (as ``driver.Chip.read(c, Space.WEIGHT)`` returns them), as a
        list or a dict by core, or a :class:`~sal_hw.golden.chip.FixedChip`.
        Codes times the projection's LSB; synapses the mask leaves out are 0.
        """
        pr = self._projection(projection)
        return self.codes_of(chip_words_by_core, pr) * self.placement.image.blocks[pr.name].lsb

    def spike_counts(self, chip_words_by_core, population=None):
        """SPIKE_COUNT words of the cores to network order (or one population's neurons)."""
        words = self._words(chip_words_by_core, Space.SPIKE_COUNT, self.params.neurons)
        counts = np.stack(words)[self.placement.neuron_core, self.placement.neuron_local]
        if population is None:
            return counts
        pop = self._population(population)
        base = self.network.offsets()[pop.name]
        return counts[base:base + pop.size]

    def neuron_slots(self, population):
        """(core, local neuron) of every neuron of a population, in order."""
        pop = self._population(population)
        base = self.network.offsets()[pop.name]
        g = np.arange(base, base + pop.size)
        return list(zip(self.placement.neuron_core[g].tolist(),
                        self.placement.neuron_local[g].tolist()))

    def inject_targets(self, population, neurons):
        """Where a spike of these neurons arrives: ``{core: [axons]}`` for INJECT requests.

        Injecting "neuron i of population P" delivers a spike on every axon
        that carries that neuron's spikes (the synapses it drives), as if it
        had fired; the neuron itself does not spike.  A neuron that drives
        no synapse has no targets.  Repeated neurons are kept (each is one
        queue event).
        """
        pop = self._population(population)
        base = self.network.offsets()[pop.name]
        out = {}
        for i in neurons:
            if not 0 <= int(i) < pop.size:
                raise IndexError(f"population {pop.name!r} has {pop.size} neurons, no {i}")
            g = base + int(i)
            for c, pre_of in enumerate(self.placement.axon_pre):
                out.setdefault(c, []).extend(np.flatnonzero(pre_of == g).tolist())
        return {c: axons for c, axons in out.items() if axons}


# -- compiling ---------------------------------------------------------------------------------
def _network_of(netfile_or_network):
    from .netfile import Netfile, load
    if isinstance(netfile_or_network, (str, Path)):
        netfile_or_network = load(netfile_or_network)
    if isinstance(netfile_or_network, Netfile):
        return netfile_or_network.network, netfile_or_network
    if isinstance(netfile_or_network, Network):
        return netfile_or_network, None
    raise TypeError(f"compile_network takes a network file, a Netfile or a Network, not "
                    f"{type(netfile_or_network).__name__}")


_RULES_HINT = ("give projections the same rule, learning rate and weight range where possible, "
               "or use a chip built with more rules")


def _fitting_cores(exists, size, p, route_entries, lo, hi):
    """The fewest cores in lo..hi on which a contiguous placement fits, or None."""
    for k in range(max(lo, math.ceil(size / p.neurons)), hi + 1):
        neurons, axons, _, routes = _usage(exists, size, k)
        if neurons.max() <= p.neurons and axons.max() <= p.axons and routes <= route_entries:
            return k, routes
    return None


def compile_network(netfile_or_network, chip_info, *, lut_shift=8, apply_period=None,
                    cores=None):
    """Place a network on a chip and check it fits; nothing is sent anywhere.

    ``netfile_or_network``: a network file path, a loaded
    :class:`~sal_hw.netfile.Netfile` or a :class:`~sal_hw.golden.network.Network`.
    ``chip_info``: the chip's :class:`~sal_hw.golden.protocol.ChipInfo`
    (``cores``, ``params``, ``route_entries``, ``inject_depth``).
    ``apply_period``: the cores' APPLY_PERIOD; default the file's
    ``run.phase``, or 0 (apply on host command only) for a bare Network.
    ``cores``: how many of the chip's cores to spread the network over
    (default all; the others stay empty, which saves route entries).

    Returns a :class:`Compiled`; raises :class:`CompileError` naming the
    first resource that does not fit.
    """
    net, nf = _network_of(netfile_or_network)
    p = chip_info.params
    K = chip_info.cores if cores is None else int(cores)
    D = min(int(chip_info.route_entries), MAX_ROUTE_ENTRIES)
    size = net.size
    if apply_period is None:
        apply_period = nf.run.phase if nf is not None else 0

    def fail(resource, problem, suggestion=None, **kw):
        raise CompileError(net.name, resource, problem, suggestion, **kw)

    if not 1 <= K <= min(chip_info.cores, MAX_CORES):
        fail("cores", f"asked for {K} cores", f"the chip has {chip_info.cores}",
             needed=K, available=chip_info.cores)
    # -- neurons: the contiguous blocks of place()
    B = math.ceil(size / K)
    if B > p.neurons:
        need = math.ceil(size / p.neurons)
        fail("neurons per core",
             f"{size} neurons in contiguous blocks over {K} core{'s' * (K > 1)} put {B} on "
             f"core 0, {B - p.neurons} more than a core's {p.neurons}",
             f"needs {need} cores of {p.neurons} neurons; the chip has {chip_info.cores}"
             + ("" if cores is None or need > chip_info.cores else f" (compile with "
                f"cores={need})"),
             core=0, needed=B, available=p.neurons)
    if size > MAX_NETWORK_NEURONS:
        fail("network size", f"{size} neurons; the compiler quantizes a network as one image of "
             f"at most {MAX_NETWORK_NEURONS} neurons", needed=size, available=MAX_NETWORK_NEURONS)
    for a in net.projections:
        for b in net.projections:
            if a is not b and (a.pre, a.post) == (b.pre, b.post):
                fail("synapses", f"projections {a.name!r} and {b.name!r} both connect "
                     f"{a.pre} -> {a.post}; a core holds one synapse per (pre, post) neuron pair",
                     "merge them into one projection")
    # -- the fixed-point image (weights, rules, kernel): what place() cuts the cores from
    # (with the largest rule table a core can have, to count the entries the network needs)
    try:
        image = quantize(net, params=replace(p, neurons=size, axons=size, rules=16),
                         lut_shift=lut_shift, apply_period=apply_period)
    except ValueError as e:
        if "rule-table" in str(e):
            fail("rule-table entries", f"the network needs more than 16 rule-table entries; "
                 f"a core has {p.rules}", _RULES_HINT, needed=17, available=p.rules)
        fail("fixed-point format", str(e))
    exists = (image.rule_index != 0) | (image.weight != 0)      # place()'s synapses
    neurons, axons, synapses, routes = _usage(exists, size, K)
    used_rules = int(image.rule_index.max(initial=0)) + 1
    if used_rules > p.rules:
        fail("rule-table entries", f"the network needs {used_rules} rule-table entries (rule 0, "
             f"\"no synapse\", and one per distinct rule, learning rate and weight exponent of "
             f"its projections), {used_rules - p.rules} more than a core's {p.rules}",
             _RULES_HINT, needed=used_rules, available=p.rules)
    fits = {
        "cores": Resource("cores", int(np.count_nonzero(neurons)), chip_info.cores),
        "neurons per core": Resource("neurons per core", int(neurons.max()), p.neurons,
                                     int(neurons.argmax()), tuple(neurons.tolist())),
        "axons per core": Resource("axons per core", int(axons.max()), p.axons,
                                   int(axons.argmax()), tuple(axons.tolist())),
        "synapses per core": Resource("synapses per core", int(synapses.max()),
                                      p.axons * p.neurons, int(synapses.argmax()),
                                      tuple(synapses.tolist())),
        "route entries": Resource("route entries", routes, D),
        "rule-table entries": Resource("rule-table entries", used_rules, p.rules),
    }
    # -- axons, synapses and routes of that placement
    r = fits["axons per core"]
    if not r.fits:
        fan_in = exists.sum(axis=0)          # distinct pre neurons of every neuron
        better = (_fitting_cores(exists, size, p, D, K + 1, MAX_CORES)
                  if fan_in.max() <= p.axons else None)
        if better:
            hint = f"a chip of {better[0]} cores would fit"
        elif fan_in.max() > p.axons:
            hint = (f"no number of cores fits: neuron {int(fan_in.argmax())} alone receives "
                    f"from {int(fan_in.max())} neurons; make the network sparser or smaller")
        else:
            hint = (f"no chip of up to {MAX_CORES} cores fits with contiguous blocks; make the "
                    f"network sparser or smaller")
        fail("axons per core", f"core {r.core} needs {r.used} axons (one per distinct pre neuron "
             f"with a synapse onto its neurons), {r.used - r.available} more than a core's "
             f"{r.available}", hint, core=r.core, needed=r.used, available=r.available)
    r = fits["synapses per core"]
    if not r.fits:      # cannot happen when neurons and axons fit; kept for completeness
        fail("synapses per core", f"core {r.core} needs {r.used} synapses, "
             f"{r.used - r.available} more than a core's {r.available}",
             core=r.core, needed=r.used, available=r.available)
    r = fits["route entries"]
    if not r.fits:
        fewer = _fitting_cores(exists, size, p, D, 1, K - 1) if K > 1 else None
        hint = f"a chip with at least {routes} route entries would fit"
        if fewer:
            hint += (f"; on fewer cores it needs fewer: compile with cores={fewer[0]} "
                     f"({fewer[1]} entries)")
        fail("route entries", f"the routing table needs {routes} entries (one per neuron and "
             f"core its spikes reach), {routes - D} more than the chip's {D}", hint,
             needed=routes, available=D)
    # -- place (cannot fail now) and the report
    placement = place(net, p, K, lut_shift=lut_shift, apply_period=apply_period)
    compiled = Compiled(network=net, chip_info=chip_info, placement=placement,
                        report=_report(net, placement), fits=fits, lut_shift=lut_shift,
                        apply_period=int(apply_period or 0), netfile=nf)
    # -- the schedule's injections against the inject queue
    pending, peak, where = [], 0, None
    if nf is not None:
        for action in nf.run.schedule:
            if action.op != "inject":
                continue
            targets = compiled.inject_targets(action.population, action.neurons)
            events = sum(len(a) for a in targets.values())
            compiled.schedule_events.append((action, events))
            pending = [(at, n) for at, n in pending if at >= action.step] + [(action.at, events)]
            total = sum(n for _, n in pending)
            if total > peak:
                peak, where = total, action
    fits["inject queue"] = Resource("inject queue", peak, int(chip_info.inject_depth))
    r = fits["inject queue"]
    if not r.fits:
        from .netfile import format_path
        line = f"{nf.file}:{where.line}: " if where.line else f"{nf.file}: "
        fail("inject queue", f"{line}{format_path(where.path)} leaves {peak} injected events "
             f"pending (one per axon a spike reaches), {peak - r.available} more than the chip's "
             f"queue of {r.available}", "inject fewer neurons at once, or run past the earlier "
             "injections' steps before queueing more", needed=peak, available=r.available)
    return compiled


def _report(net, placement):
    image = placement.image
    p = image.params
    lo, hi = p.weight_range
    out = {}
    for pr in net.projections:
        block = image.blocks[pr.name]
        q = image.report["weights"][pr.name]
        post, pre = block.shape
        codes = image.weight[block.axon0:block.axon0 + pre, block.neuron0:block.neuron0 + post].T
        err = np.abs(codes * block.lsb - pr.weights)[pr.mask]
        clipped = np.abs(np.round(pr.weights / block.lsb))[pr.mask] > max(-lo, hi)
        out[pr.name] = {
            "pre": pr.pre, "post": pr.post, "shape": tuple(pr.weights.shape),
            "synapses": int(pr.mask.sum()), "rule": pr.rule if pr.plastic else "off",
            "lsb": block.lsb, "w_exp": round(math.log2(block.lsb)) + p.u_frac,
            "max_abs_error": q["max_abs_error"],
            "mean_abs_error": float(err.mean()) if err.size else 0.0,
            "rms_error": q["rms_error"],
            "max_error_lsb": q["max_abs_error"] / block.lsb,
            "clipped": int(clipped.sum()),
            "eta_relative_error": q["eta_relative_error"],
        }
    return {"projections": out, "kernel_scale": image.report["kernel_scale"]}


def describe_fit(compiled):
    """A short table of the resources the network uses on the chip (for ``sal-hw info``)."""
    info, p = compiled.chip_info, compiled.params
    net, pl = compiled.network, compiled.placement
    lines = [f"chip: {info.cores} core{'s' * (info.cores > 1)} of {p.neurons} neurons and "
             f"{p.axons} axons, {info.route_entries} route entries, inject queue "
             f"{info.inject_depth}",
             f"network {net.name!r}: {net.size} neurons on {compiled.fits['cores'].used} "
             f"core{'s' * (compiled.fits['cores'].used > 1)}, blocks of {pl.block} in network "
             f"order"]
    rows = [["resource", "used", "available", "spare", "most used on"]]
    for r in compiled.fits.values():
        rows.append([r.name, str(r.used), str(r.available), str(r.spare),
                     "" if r.core is None else f"core {r.core}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:4], widths[1:4])]
        lines.append(("  " + "  ".join(cells) + "  " + row[4]).rstrip())
    if 1 < pl.cores <= 8:
        f = compiled.fits
        per = zip(f["neurons per core"].per_core, f["axons per core"].per_core,
                  f["synapses per core"].per_core)
        lines += [f"  core {c}: {n} neurons, {a} axons, {s} synapses"
                  for c, (n, a, s) in enumerate(per)]
    ok = all(r.fits for r in compiled.fits.values())
    lines.append(f"fits: {'yes' if ok else 'no'}")
    return "\n".join(lines)
