"""Plots of symmetrization runs (PNG files, matplotlib's Agg backend: no display needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

__all__ = ["plot_angles", "plot_weights", "plot_raster", "plot_matrices"]


def _runs(trajectories):
    """``{label: trajectory}`` from a mapping or a list (labelled seed 1, 2, ...)."""
    if isinstance(trajectories, dict):
        return {str(k): v for k, v in trajectories.items()}
    return {str(i + 1): t for i, t in enumerate(trajectories)}


def _series(runs, attr):
    """Per key: (steps, [values per run]) over the runs that have it."""
    out = {}
    for traj in runs.values():
        for key, values in getattr(traj, attr).items():
            steps, rows = out.setdefault(key, (list(traj.steps), []))
            rows.append(np.asarray(values, dtype=float))
    return out


def _draw(ax, series, labels):
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (key, (steps, rows)) in enumerate(series.items()):
        color = colors[i % len(colors)]
        n = min(len(r) for r in rows)
        x = np.asarray(steps[:n])
        stack = np.stack([r[:n] for r in rows])
        if len(rows) > 1:
            for r in stack:
                ax.plot(x, r, color=color, lw=0.8, alpha=0.35)
        label = labels.get(key, key)
        if len(rows) > 1:
            label += f" (mean of {len(rows)})"
        ax.plot(x, stack.mean(axis=0), color=color, lw=2.2, label=label)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    last = max((steps[-1] for steps, _ in series.values() if steps), default=0)
    if last > 0:
        ax.set_xlim(0, last)
    ax.set_xlabel("step")
    ax.grid(True, alpha=0.3)


def _legend(fig, ax, runs, extra=()):
    """Legend below the axes, where it never hides a curve: the curves first, then markers."""
    handles, labels = ax.get_legend_handles_labels()
    order = [i for i, h in enumerate(handles) if h not in extra] + \
        [i for i, h in enumerate(handles) if h in extra]
    handles = [handles[i] for i in order]
    labels = [labels[i] for i in order]
    if len(runs) > 1:
        handles.append(Line2D([], [], color="0.5", lw=0.8, alpha=0.6))
        labels.append(f"thin: each run ({', '.join(runs)})")
    fig.legend(handles, labels, loc="outside lower center", ncols=min(2, len(labels)) or 1,
               fontsize="small", frameon=False)


def plot_angles(trajectories, path, title="", labels=None, reference=None):
    """Angle (degrees) of every alignment pair over the steps, written as a PNG to ``path``.

    ``trajectories``: :class:`~sal_hw.golden.experiment.Trajectory` objects, a
    list or ``{seed: trajectory}``.  With several, each run is drawn thin and
    their mean thick, one colour per pair.  ``labels`` maps an angle key
    (the feedback projection's name) to its legend text.  ``reference``
    marks target ranges: ``(lo, hi)`` or ``{label: (lo, hi)}``, in degrees,
    drawn as shaded bands.
    """
    runs = _runs(trajectories)
    series = _series(runs, "angles")
    fig, ax = plt.subplots(figsize=(8, 5.2), dpi=120, layout="constrained")
    markers = []
    if reference is not None:
        bands = reference if isinstance(reference, dict) else {"reference": reference}
        for i, (label, (lo, hi)) in enumerate(bands.items()):
            markers.append(ax.axhspan(lo, hi, color=f"C{(i + 5) % 10}", alpha=0.12, lw=0,
                                      label=label))
    markers.append(ax.axhline(90, color="0.4", lw=0.8, ls=":", label="orthogonal (90°)"))
    _draw(ax, series, labels or {})
    top = max([95.0] + [float(np.nanmax(r)) + 5 for _, rows in series.values() for r in rows])
    ax.set_ylim(0, min(top, 180))
    ax.set_ylabel("angle (degrees)")
    if not series:
        ax.text(0.5, 0.5, "no alignment pairs in this network", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
    ax.set_title(title)
    _legend(fig, ax, runs, markers)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_weights(trajectories, path, title="", labels=None):
    """Weights over the steps (``trajectory.weights``: ``{name: [value per record]}``) as a PNG.

    For networks whose alignment pairs are single synapses (the pair), where
    the angle is always 0 or 180 degrees and the weights themselves tell more.
    """
    runs = _runs(trajectories)
    series = _series(runs, "weights")
    fig, ax = plt.subplots(figsize=(8, 5.2), dpi=120, layout="constrained")
    ax.axhline(0, color="0.4", lw=0.8)
    _draw(ax, series, labels or {})
    ax.set_ylabel("weight (network units)")
    ax.set_title(title)
    if series:
        _legend(fig, ax, runs)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_raster(raster, net, path, title="", first_step=0):
    """Spike raster: ``raster`` bool (steps, neurons) in network order; populations banded."""
    raster = np.asarray(raster, dtype=bool)
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    t, n = np.nonzero(raster)
    ax.scatter(t + first_step, n, s=4, marker="|", color="black", linewidths=0.8)
    for i, (pop, base) in enumerate(net.offsets().items()):
        size = net.population(pop).size
        if i % 2:
            ax.axhspan(base - 0.5, base + size - 0.5, color="0.92", zorder=0)
        ax.text(1.01, (base + size / 2) / max(net.size, 1), pop, transform=ax.transAxes,
                va="center", fontsize=8)
    ax.set_xlim(first_step - 0.5, first_step + len(raster) - 0.5)
    ax.set_ylim(-0.5, net.size - 0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("neuron (network order)")
    ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_matrices(matrices, path, title=""):
    """Heat maps of weight matrices (post x pre), one panel each, a shared symmetric scale."""
    names = list(matrices)
    cols = min(len(names), 4) or 1
    rows = -(-len(names) // cols) or 1
    top = max((float(np.abs(m).max()) for m in matrices.values()), default=1.0) or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False,
                             layout="constrained")
    image = None
    for ax, name in zip(axes.flat, names):
        image = ax.imshow(matrices[name], cmap="RdBu_r", vmin=-top, vmax=top,
                          interpolation="nearest", aspect="auto")
        ax.set_title(f"{name} {'x'.join(map(str, matrices[name].shape))}", fontsize=9)
        ax.set_xlabel("pre", fontsize=8)
        ax.set_ylabel("post", fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)

