"""A compiled network on a chip, seen like a golden model: what ``sal-hw run`` drives.

:class:`ChipModel` wraps a :class:`~sal_hw.driver.Chip` (any backend) and a
:class:`~sal_hw.compiler.Compiled` network: ``run(n)`` returns the spikes
per neuron of those n steps, ``weights(name)`` a projection's weights in
network units, ``spike_count`` the counts in network order, so the CLI's
recording code works on it as on ``FixedCore``.  :func:`run_schedule`
carries out a network file's ``run.schedule`` (run, apply, inject, read)
on it, recording every ``record_every`` steps.

The chip's step counter is not writable, so a reused board may not start
at 0: the schedule's absolute steps (INJECT ``at``) count from the chip
step at load time.
"""

import numpy as np

from .golden.spaces import Space

__all__ = ["ChipModel", "open_chip", "run_schedule"]


def open_chip(backend, chip_info=None, **options):
    """``driver.Chip.open`` for a backend; golden and rtl take their shape from ``chip_info``."""
    from .driver import Chip
    if backend in ("golden", "rtl") and chip_info is not None:
        options = {"params": chip_info.params, "cores": chip_info.cores,
                   "lanes": chip_info.lanes, "route_entries": chip_info.route_entries,
                   "inject_depth": chip_info.inject_depth, **options}
    return Chip.open(backend, **options)


class ChipModel:
    """``compiled`` loaded into ``chip``; ``from_reset`` as :meth:`driver.Chip.load`."""

    def __init__(self, chip, compiled, *, from_reset=True):
        self.chip = chip
        self.compiled = compiled
        self.cores = range(compiled.cores_used)
        chip.load(compiled.chip(), from_reset=from_reset)
        self.base_step = chip.status().step
        self.steps = 0
        self._counts = self._spike_counts()
        self._weights = None

    def _read(self, space):
        return [self.chip.read(c, space) for c in self.cores]

    def _spike_counts(self):
        return np.asarray(self.chip.spike_counts(self.compiled), dtype=np.int64)

    @property
    def spike_count(self):
        return self._counts

    def run(self, steps):
        """Run ``steps`` steps; returns the spikes per neuron (network order) they made."""
        before = self._counts
        self.chip.run(steps)
        self.steps += steps
        self._counts = self._spike_counts()
        self._weights = None
        return self._counts - before

    def apply(self):
        self.chip.apply()
        self._weights = None

    def inject(self, population, neurons, at):
        """Spikes on ``neurons`` of ``population`` arriving at schedule step ``at``."""
        for core, axons in self.compiled.inject_targets(population, neurons).items():
            self.chip.inject(self.base_step + at, core, axons)

    def weights(self, name):
        """A projection's weights, (post, pre), in network units (one read per state)."""
        if self._weights is None:
            self._weights = self._read(Space.WEIGHT)
        return self.compiled.weights_of(self._weights, name)

    def raster(self):
        """Spikes of the last ``history`` steps, bool (steps, neurons), oldest first."""
        H = self.compiled.params.history
        hist = self._read(Space.NEURON_HIST)
        size = self.compiled.network.size
        out = np.zeros((min(H, self.steps), size), dtype=bool)
        for g, (core, local) in enumerate(self._slots()):
            word = int(hist[core][local])
            for age in range(out.shape[0]):      # bit 0: the last step
                out[-1 - age, g] = word >> age & 1
        return out

    def _slots(self):
        slots = []
        for pop in self.compiled.network.populations:
            slots += self.compiled.neuron_slots(pop.name)
        return slots


def run_schedule(model, schedule, record_every, record, progress=None):
    """Carry out ``schedule`` (netfile Actions) on ``model``; returns the spikes in total.

    ``record(step)`` is called at step 0, every ``record_every`` steps and at
    each ``read`` item; ``progress(steps_done)`` after every chunk.
    """
    step = 0
    spikes = 0
    record(0)
    for action in schedule:
        if action.op == "run":
            left = action.steps
            while left:
                chunk = min(left, record_every - step % record_every)
                spikes += int(model.run(chunk).sum())
                step += chunk
                left -= chunk
                if step % record_every == 0:
                    record(step)
                if progress:
                    progress(step)
        elif action.op == "apply":
            model.apply()
        elif action.op == "inject":
            model.inject(action.population, action.neurons, action.at)
        elif action.op == "read":
            record(step)
        else:   # the netfile validates ops
            raise ValueError(f"unknown schedule item {action.op!r}")
    return spikes
