"""Run a network's symmetrization on either golden model and record the angles.

Shared by the CLI, the tests and benchmarks/symmetrization.py, so that all
three measure the same thing.
"""

from dataclasses import dataclass, field

import numpy as np

from .fixed import FixedCore
from .float_model import FloatModel
from .network import layer_angles
from .quantize import quantize

__all__ = ["Trajectory", "make_model", "model_weights", "symmetrize"]


@dataclass
class Trajectory:
    """Angles (degrees) per feedback projection at each recorded step."""

    steps: list = field(default_factory=list)
    angles: dict = field(default_factory=dict)
    spikes: int = 0

    def record(self, step, angles):
        self.steps.append(step)
        for name, value in angles.items():
            self.angles.setdefault(name, []).append(value)

    def final(self):
        return {name: values[-1] for name, values in self.angles.items()}


def make_model(net, model="fixed", phase=1000, params=None):
    """A ready-to-run golden model of ``net``: ``"fixed"`` (bit-exact) or ``"float"``."""
    if model == "fixed":
        image = quantize(net, params=params, apply_period=phase)
        core = FixedCore(image)
        core.blocks = image.blocks
        return core
    if model == "float":
        return FloatModel(net, apply_period=phase)
    raise ValueError(f"model must be 'fixed' or 'float', not {model!r}")


def model_weights(net, model):
    """Every projection's weights in network units, whichever model."""
    if isinstance(model, FixedCore):
        return {name: model.block_weights(b) for name, b in model.blocks.items()}
    return {pr.name: model.weights(pr.name) for pr in net.projections}


def symmetrize(net, model="fixed", steps=40_000, phase=1000, record_every=1000,
               progress=None, params=None):
    """Run ``steps`` steps of spontaneous activity with apply every ``phase`` steps.

    ``progress`` is called as ``progress(step, angles)`` at every record.
    Returns the :class:`Trajectory` and the model (for reading state back).
    """
    m = make_model(net, model, phase, params) if isinstance(model, str) else model
    traj = Trajectory()
    traj.record(0, layer_angles(net, model_weights(net, m)))
    done = 0
    spikes = 0
    while done < steps:
        chunk = min(record_every, steps - done)
        spikes += int(m.run(chunk).sum())
        done += chunk
        angles = layer_angles(net, model_weights(net, m))
        traj.record(done, angles)
        if progress:
            progress(done, angles)
    traj.spikes = spikes
    return traj, m
