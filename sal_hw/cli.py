"""The ``sal-hw`` command: run a network file on a chip, describe it, show its weights.

    sal-hw run NETWORK.yaml [--backend golden|rtl|serial] [--port DEV] [--model fixed|float]
                            [--steps N] [--seeds 1,2,3] [--out DIR] [--quiet] [chip shape]
    sal-hw info NETWORK.yaml [--board icebreaker|ulx3s-85f | chip shape]
    sal-hw weights RESULTS [--png FILE] [--seed S]
    sal-hw build --board icebreaker|ulx3s-85f [--clock MHZ] [--out DIR]

chip shape: --cores K --neurons N --axons A --history H --lanes L
--route-entries D --inject-depth Q (golden and rtl backends).

Also ``python -m sal_hw.cli``.  A network file that cannot be used, a
network that does not fit the chip, or a bad command line exits with code
2 and a message on stderr before anything is sent to a chip or written; a
chip or link failure exits with code 1.
"""

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sal_hw.netfile import MODELS, NetfileError, load

BACKENDS = ("golden", "rtl", "serial")

__all__ = ["main", "build_parser"]

PROG = "sal-hw"


# -- argument parsing --------------------------------------------------------

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def _seed_list(text):
    seeds = []
    for part in text.split(","):
        part = part.strip()
        try:
            seed = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: {part!r} is not an integer; give seeds like 1,2,3") from None
        if seed < 0:
            raise argparse.ArgumentTypeError(f"{text!r}: seed {seed} is negative")
        if seed in seeds:
            raise argparse.ArgumentTypeError(f"{text!r}: seed {seed} is repeated")
        seeds.append(seed)
    return seeds


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="SAL neuromorphic core: run network files on the golden emulator, the "
                    "simulated RTL chip or a board, and inspect the results.",
        epilog=f"'{PROG} COMMAND --help' describes each command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run a network's symmetrization and write plots and metrics",
        description="Run spontaneous activity with plasticity on a golden model, once per "
                    "seed, recording the angle between every forward weight matrix and its "
                    "feedback matrix. Writes angles.png, metrics.json and weights.npz into "
                    "the output folder (and weights.png when the projections are single "
                    "synapses, as in the pair).")
    run.add_argument("network", metavar="NETWORK.yaml", help="network file")
    run.add_argument("--model", choices=MODELS,
                     help="golden model: fixed (bit-exact, what the hardware does) or float "
                          "(real-valued reference); default: the file's run.model")
    run.add_argument("--steps", type=_positive_int, metavar="N",
                     help="timesteps per seed; default: the file's run.steps")
    run.add_argument("--seeds", type=_seed_list, metavar="S1,S2,...",
                     help="comma-separated seeds, one run each; default: the file's run.seeds")
    run.add_argument("--out", metavar="DIR", type=Path,
                     help="output folder; default: out/<name>/")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bar and no line per record, only the summary")
    run.add_argument("--backend", choices=BACKENDS, default="golden",
                     help="where the fixed model runs: golden (the bit-exact emulator in this "
                          "process, default), rtl (the Verilated chip; needs a source "
                          "checkout, builds once per chip shape) or serial (a board)")
    run.add_argument("--port", help="serial device of the board (--backend serial)")
    run.add_argument("--baud", type=_positive_int, default=3_000_000,
                     help="serial baud rate (default 3000000)")
    _chip_arguments(run)
    run.set_defaults(func=cmd_run)

    info = sub.add_parser(
        "info", help="describe a network and its fixed-point quantization",
        description="Print the populations, projections and synapse count of a network file, "
                    "the fixed-point quantization errors, and whether it fits one default "
                    "core.")
    info.add_argument("network", metavar="NETWORK.yaml", help="network file")
    info.add_argument("--board", choices=sorted(_boards()),
                      help="check the fit on this board's chip (docs/boards.md) instead of "
                           "the chip-shape options")
    _chip_arguments(info)
    info.set_defaults(func=cmd_info)

    weights = sub.add_parser(
        "weights", help="show the weights a run saved (weights.npz)",
        description="Print every projection's weights saved by 'sal-hw run' (shape, range, "
                    "mean, and the angle of each feedback matrix to its forward partner) and "
                    "draw them as heat maps.")
    weights.add_argument("results", metavar="RESULTS", type=Path,
                         help="an output folder of 'sal-hw run' or its weights.npz")
    weights.add_argument("--png", metavar="FILE", type=Path,
                         help="heat maps; default: weights-matrices.png next to the npz")
    weights.add_argument("--seed", type=int, help="only this seed's weights")
    weights.set_defaults(func=cmd_weights)

    build = sub.add_parser(
        "build", help="synthesize, place and route a board's bitstream and report it",
        description="Build the board top (PLL, UART link, the chip) for a board with Yosys and "
                    "nextpnr (the YoWASP builds from PyPI unless YOSYS, NEXTPNR_ICE40, "
                    "ICEPACK, NEXTPNR_ECP5, ECPPACK name other tools). Writes the bitstream "
                    "and report.json (resources, Fmax per clock, fits, meets timing) to the "
                    "output folder and prints a summary. Exit code 1 if the design does not "
                    "fit or misses the core clock.")
    build.add_argument("--board", required=True, choices=sorted(_boards()),
                       help="icebreaker (iCE40UP5K) or ulx3s-85f (LFE5U-85F)")
    build.add_argument("--clock", type=float, metavar="MHZ",
                       help="core clock; default: the board's (docs/boards.md)")
    build.add_argument("--out", type=Path, metavar="DIR",
                       help="build folder; default out/boards/<board>/")
    build.set_defaults(func=cmd_build)
    return parser


def _boards():
    from sal_hw.boards.top import BOARDS
    return BOARDS


def _chip_arguments(parser):
    g = parser.add_argument_group(
        "chip shape (golden and rtl backends; a serial board reports its own)")
    g.add_argument("--cores", type=_positive_int, default=1, help="cores K (default 1)")
    g.add_argument("--neurons", type=_positive_int, help="neurons per core (default 256)")
    g.add_argument("--axons", type=_positive_int, help="axons per core (default 256)")
    g.add_argument("--history", type=_positive_int, help="history steps H (default 64)")
    g.add_argument("--lanes", type=_positive_int, default=1,
                   help="synapse lanes of the RTL build (default 1)")
    g.add_argument("--route-entries", type=_positive_int, default=4096,
                   help="routing table entries (default 4096)")
    g.add_argument("--inject-depth", type=_positive_int, default=256,
                   help="inject queue events (default 256)")


# -- measurements shared by run and info -------------------------------------

def _self_pairs(net):
    """Plastic projections from a population onto itself: their angle to their own transpose."""
    return [pr for pr in net.projections
            if pr.pre == pr.post and pr.plastic and int(pr.mask.sum()) > 1]


def _scalar_projections(net):
    """Projections of a single synapse: the angle says nothing, the weight does."""
    return [pr for pr in net.projections if int(pr.mask.sum()) == 1]


def _angles(net, weights):
    """The golden layer angles plus, for recurrent projections, the angle of W to W^T."""
    from sal_hw.golden.network import angle_deg, layer_angles
    out = layer_angles(net, weights)
    for pr in _self_pairs(net):
        out[f"{pr.name} (symmetry)"] = angle_deg(weights[pr.name], weights[pr.name])
    return out


def _angle_labels(net):
    labels = {}
    for fwd, fb in net.alignment_pairs():
        p = net.projection(fb)
        labels[fb] = f"{fb} vs {fwd}$^T$ ({p.pre}→{p.post})"
    for pr in _self_pairs(net):
        labels[f"{pr.name} (symmetry)"] = f"{pr.name} vs {pr.name}$^T$ ({pr.pre}→{pr.post})"
    return labels


def _plain(label):
    return label.replace("$^T$", "^T").replace("→", "->")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def _dump_json(obj):
    """Indented JSON with every list of numbers on one line (trajectories stay readable)."""
    text = json.dumps(_jsonable(obj), indent=1)
    return re.sub(r"\[\s*([-+0-9.eE,\s]*?|null)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]"
                  if m.group(1).strip() else "[]", text) + "\n"


def _fmt_angles(angles):
    return "  ".join(f"{k} {v:6.2f}" for k, v in angles.items())


@dataclass
class _Run:
    seed: int
    steps: list = field(default_factory=list)
    angles: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)   # single-synapse projections only
    spikes: int = 0
    rates: dict = field(default_factory=dict)
    seconds: float = 0.0
    steps_per_second: float = 0.0
    quantization: dict | None = None
    final_weights: dict = field(default_factory=dict)
    spike_counts: object = None        # per neuron, network order, at the end


# -- sal-hw run --------------------------------------------------------------

class UsageError(ValueError):
    """A command line that cannot be carried out (exit code 2)."""


def _chip_info(args):
    """The chip shape the golden and rtl backends build (the serial one asks the board):
    a board's configuration with --board, else the chip-shape options."""
    from sal_hw.golden.params import CoreParams
    from sal_hw.golden.protocol import ChipInfo
    if getattr(args, "board", None):
        cfg = _boards()[args.board]
        return ChipInfo(cores=cfg.cores, params=cfg.params, lanes=cfg.lanes,
                        route_entries=cfg.route_entries, inject_depth=cfg.inject_depth)
    base = CoreParams()
    params = CoreParams(neurons=args.neurons or base.neurons, axons=args.axons or base.axons,
                        history=args.history or base.history)
    return ChipInfo(cores=args.cores, params=params, lanes=args.lanes,
                    route_entries=args.route_entries, inject_depth=args.inject_depth)


def _driver_options(args):
    if args.backend == "serial":
        if not args.port:
            raise UsageError("--backend serial needs --port (for example /dev/ttyUSB1)")
        return {"port": args.port, "baud": args.baud}
    if args.port:
        raise UsageError(f"--port is for --backend serial, not {args.backend}")
    return {}


def _schedule(nf, args):
    from sal_hw.netfile import Action
    if args.steps is None or args.steps == nf.run.steps:
        return nf.run.schedule, nf.run.steps
    if [a.op for a in nf.run.schedule] != ["run"]:
        raise UsageError(f"--steps cannot change {nf.path.name}'s run.schedule; edit the file")
    return [Action("run", 0, steps=args.steps)], args.steps


def cmd_run(args):
    from tqdm import tqdm

    from sal_hw.chiprun import ChipModel, open_chip, run_schedule
    from sal_hw.compiler import CompileError, compile_network
    from sal_hw.golden.experiment import make_model
    from sal_hw.plots import plot_angles, plot_raster, plot_weights

    nf = load(args.network)
    model = args.model or nf.run.model
    schedule, steps = _schedule(nf, args)
    seeds = args.seeds or nf.run.seeds
    phase, record_every = nf.run.phase, nf.run.record_every
    out = args.out if args.out is not None else Path("out") / nf.name
    backend = args.backend
    if model == "float":
        if backend != "golden":
            raise UsageError("the float model is a software reference: it runs on the golden "
                             "backend only (use --model fixed for rtl or serial)")
        extra = sorted({a.op for a in schedule} - {"run", "read"})
        if extra:
            raise UsageError(f"the float model runs only run and read schedule items, not "
                             f"{', '.join(extra)} (use --model fixed)")
    options = _driver_options(args)

    # Everything that can fail on the file or the chip's capacity fails before anything
    # is sent to a chip or written to disk.
    nets = {seed: nf.build(seed) for seed in seeds}
    board = None
    compiled = {}
    if model == "fixed":
        if backend == "serial":
            board = open_chip("serial", **options)
            info = board.info
        else:
            info = _chip_info(args)
        try:
            compiled = {seed: compile_network(nets[seed], info, apply_period=phase)
                        for seed in seeds}
        except CompileError as e:
            if board is not None:
                board.close()
            raise UsageError(f"{nf.path}: {e}") from None

    quiet = args.quiet
    runs, rasters = [], {}
    try:
        for seed in seeds:
            net = nets[seed]
            if model == "fixed":
                chip = board or open_chip(backend, info, **options)
                m = ChipModel(chip, compiled[seed], from_reset=board is None)
                q = compiled[seed].report
                run = _Run(seed, quantization={"weights": q["projections"],
                                               "kernel_scale": q["kernel_scale"]})
            else:
                chip, m = None, make_model(net, "float", phase)
                run = _Run(seed)
            scalars = _scalar_projections(net)
            bar = tqdm(total=steps, desc=f"seed {seed}", unit="step", unit_scale=True,
                       file=sys.stderr, disable=quiet, dynamic_ncols=True)

            def record(step):
                weights = {pr.name: m.weights(pr.name) for pr in net.projections}
                angles = _angles(net, weights)
                if run.steps and run.steps[-1] == step:     # a read item at a record step
                    return
                run.steps.append(step)
                for k, v in angles.items():
                    run.angles.setdefault(k, []).append(v)
                for pr in scalars:
                    run.weights.setdefault(pr.name, []).append(
                        float(weights[pr.name][pr.mask][0]))
                bar.set_postfix({k.split(" ")[0]: f"{v:.1f}" for k, v in angles.items()},
                                refresh=False)
                if not quiet:
                    tqdm.write(f"seed {seed}  step {step:>{len(str(steps))}}  "
                               f"{_fmt_angles(angles)}", file=sys.stdout)

            t0 = time.perf_counter()
            try:
                run.spikes = run_schedule(m, schedule, record_every, record,
                                          lambda step: bar.update(step - bar.n))
            finally:
                bar.close()
            run.seconds = time.perf_counter() - t0
            run.steps_per_second = steps / run.seconds if run.seconds > 0 else float("inf")
            counts = np.asarray(m.spike_count)
            for pop, base in net.offsets().items():
                size = net.population(pop).size
                run.rates[pop] = float(counts[base:base + size].sum()) / (size * steps)
            run.final_weights = {pr.name: m.weights(pr.name) for pr in net.projections}
            run.spike_counts = counts[:net.size]
            if chip is not None:
                rasters[seed] = m.raster()
                if board is None:
                    chip.close()
            runs.append(run)
    finally:
        if board is not None:
            board.close()

    out.mkdir(parents=True, exist_ok=True)
    net = nets[seeds[0]]
    labels = _angle_labels(net)
    where = f"{backend} backend" if model == "fixed" else "golden float reference"
    title = (f"{nf.name}: {model} model ({where}), {steps} steps, "
             f"seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}")
    plot_angles({r.seed: r for r in runs}, out / "angles.png", title, labels=labels)
    written = ["angles.png"]
    if runs[0].weights:
        plot_weights({r.seed: r for r in runs}, out / "weights.png", title,
                     labels={pr.name: f"{pr.name} ({pr.pre}→{pr.post})"
                             for pr in _scalar_projections(net)})
        written.append("weights.png")
    if rasters:
        seed = seeds[0]
        plot_raster(rasters[seed], net, out / "raster.png",
                    f"{nf.name}: the last {len(rasters[seed])} steps (seed {seed}, {where})",
                    first_step=steps - len(rasters[seed]))
        written.append("raster.png")
    np.savez(out / "weights.npz", **{f"{name}_seed{r.seed}": w for r in runs
                                     for name, w in r.final_weights.items()})
    written.append("weights.npz")
    metrics = {
        "name": nf.name, "kind": nf.kind, "network_file": str(nf.path), "model": model,
        "backend": backend if model == "fixed" else None,
        "steps": steps, "phase": phase, "record_every": record_every, "seeds": seeds,
        "network": nf.params,
        "schedule": [{"op": a.op, "step": a.step, "steps": a.steps, "population": a.population,
                      "neurons": list(a.neurons), "at": a.at} for a in schedule],
        "populations": {p.name: p.size for p in net.populations},
        "projections": {pr.name: {"pre": pr.pre, "post": pr.post, "rule": pr.rule,
                                  "eta": pr.eta, "synapses": int(pr.mask.sum())}
                        for pr in net.projections},
        "angle_labels": {k: _plain(v) for k, v in labels.items()},
        "runs": [{"seed": r.seed, "steps": r.steps, "angles": r.angles,
                  **({"weights": r.weights} if r.weights else {}),
                  "spikes": r.spikes,
                  "spike_counts": [int(c) for c in r.spike_counts] if r.spike_counts is not None
                  else None,
                  "spikes_per_neuron_per_step": r.spikes / (net.size * steps),
                  "spikes_per_neuron_per_step_by_population": r.rates,
                  "seconds": r.seconds, "steps_per_second": r.steps_per_second,
                  **({"quantization": r.quantization} if r.quantization else {})}
                 for r in runs],
        "mean_angles": {k: np.mean([r.angles[k] for r in runs], axis=0)
                        for k in runs[0].angles},
    }
    (out / "metrics.json").write_text(_dump_json(metrics))
    written.append("metrics.json")

    print(_summary(nf.name, model, steps, net, runs, labels, where))
    print(f"\nwrote {', '.join(written)} to {out}/")
    return 0


def _table(rows, align):
    """Columns padded to width; ``align`` is a string of 'l'/'r' per column."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [str(c).ljust(w) if a == "l" else str(c).rjust(w)
                 for c, w, a in zip(r, widths, align)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _summary(name, model, steps, net, runs, labels, where):
    seeds = [r.seed for r in runs]
    many = len(runs) > 1
    lines = [f"{name}: {model} model, {steps} steps, {net.size} neurons, "
             f"seed{'s' * many} {', '.join(map(str, seeds))} ({where})", ""]
    keys = list(runs[0].angles)
    if keys:
        head = ["angle (degrees)", "start", "end", "change"]
        if many:
            head += [f"seed {s}" for s in seeds]
        rows = [head]
        for k in keys:
            start = np.mean([r.angles[k][0] for r in runs])
            end = np.mean([r.angles[k][-1] for r in runs])
            row = [_plain(labels.get(k, k)), f"{start:.1f}", f"{end:.1f}", f"{end - start:+.1f}"]
            if many:
                row += [f"{r.angles[k][-1]:.1f}" for r in runs]
            rows.append(row)
        lines += _table(rows, "l" + "r" * (len(head) - 1))
        if many:
            lines.append(f"(start, end, change: mean over the {len(runs)} seeds)")
    else:
        lines.append("no alignment pairs: no angles to report")
    if runs[0].weights:
        lines.append("")
        head = ["weight", "start", "end"] + ([f"seed {s}" for s in seeds] if many else [])
        rows = [head]
        for k in runs[0].weights:
            start = np.mean([r.weights[k][0] for r in runs])
            end = np.mean([r.weights[k][-1] for r in runs])
            pr = net.projection(k)
            row = [f"{k} ({pr.pre}->{pr.post})", f"{start:.4f}", f"{end:.4f}"]
            if many:
                row += [f"{r.weights[k][-1]:.4f}" for r in runs]
            rows.append(row)
        lines += _table(rows, "l" + "r" * (len(head) - 1))
    lines.append("")
    rows = [["seed", "spikes/neuron/step", "steps/s", "seconds"]]
    for r in runs:
        rows.append([str(r.seed), f"{r.spikes / (net.size * steps):.4f}",
                     f"{r.steps_per_second:.0f}", f"{r.seconds:.2f}"])
    if many:
        rows.append(["mean", f"{np.mean([r.spikes for r in runs]) / (net.size * steps):.4f}",
                     f"{np.mean([r.steps_per_second for r in runs]):.0f}",
                     f"{sum(r.seconds for r in runs):.2f} total"])
    lines += _table(rows, "lrrr")
    return "\n".join(lines)


# -- sal-hw info -------------------------------------------------------------

def cmd_info(args):
    nf = load(args.network)
    net = nf.network
    print(f"{nf.name} ({nf.kind} network) from {nf.path}")
    print("  " + ", ".join(f"{k} {v}" for k, v in nf.params.items()))
    print(f"  tau_ref {net.tau_ref}, tau_syn {net.tau_syn}, kernel {len(net.kernel)} taps, "
          f"L {net.norm}")
    r = nf.run
    print(f"  run: {r.steps} steps, apply every {r.phase}, record every {r.record_every}, "
          f"{r.model} model, seed{'s' * (len(r.seeds) > 1)} {', '.join(map(str, r.seeds))}")

    print(f"\npopulations: {len(net.populations)}, {net.size} neurons")
    rows = [["name", "size", "bias min", "bias max"]]
    for p in net.populations:
        rows.append([p.name, str(p.size), f"{p.bias.min():+.4f}", f"{p.bias.max():+.4f}"])
    print("\n".join("  " + s for s in _table(rows, "lrrr")))

    synapses = sum(int(pr.mask.sum()) for pr in net.projections)
    print(f"\nprojections: {len(net.projections)}, {synapses} synapses")
    rows = [["name", "pre -> post", "shape", "synapses", "rule", "eta", "w_max"]]
    for pr in net.projections:
        rows.append([pr.name, f"{pr.pre} -> {pr.post}", "x".join(map(str, pr.weights.shape)),
                     str(int(pr.mask.sum())), pr.rule + ("" if pr.plastic else " (fixed)"),
                     f"{pr.eta:g}", f"{pr.w_max:.4f}"])
    print("\n".join("  " + s for s in _table(rows, "lllrllr")))
    pairs = [f"{fb} ~ {fwd}^T" for fwd, fb in net.alignment_pairs()]
    pairs += [f"{pr.name} ~ {pr.name}^T" for pr in _self_pairs(net)]
    print(f"  alignment measured: {', '.join(pairs) if pairs else 'none'}")

    from sal_hw.compiler import CompileError, compile_network, describe_fit
    info = _chip_info(args)
    print()
    try:
        compiled = compile_network(nf, info)
    except CompileError as e:
        print(f"fits the chip ({info.cores} core{'s' * (info.cores > 1)} of "
              f"{info.params.neurons} neurons, {info.params.axons} axons): no")
        print(f"  {e}")
        return 0
    rows = [["projection", "LSB", "max error", "rms error", "max/LSB", "eta error"]]
    for name, q in compiled.report["projections"].items():
        rows.append([name, f"{q['lsb']:.3e}", f"{q['max_abs_error']:.3e}",
                     f"{q['rms_error']:.3e}", f"{q['max_error_lsb']:.2f}",
                     f"{q['eta_relative_error']:+.2%}"])
    print(f"fixed-point quantization ({info.params.weight_bits}-bit weights, "
          f"u_frac {info.params.u_frac}):")
    print("\n".join("  " + line for line in _table(rows, "lrrrrr")))
    print(f"  kernel scale {compiled.report['kernel_scale']:g}\n")
    print(describe_fit(compiled))
    return 0


# -- sal-hw weights ----------------------------------------------------------

def cmd_weights(args):
    from sal_hw.plots import plot_matrices

    path = args.results / "weights.npz" if args.results.is_dir() else args.results
    if not path.is_file():
        raise UsageError(f"{path}: no such file; give an output folder of 'sal-hw run' or its "
                         f"weights.npz")
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not a weights.npz written by 'sal-hw run' ({e})") from None
    names = {}
    for key in arrays:
        m = re.fullmatch(r"(.+)_seed(\d+)", key)
        if not m:
            raise UsageError(f"{path}: entry {key!r} is not NAME_seedN; not a 'sal-hw run' file")
        names.setdefault(int(m[2]), []).append(m[1])
    seeds = sorted(names) if args.seed is None else [args.seed]
    if args.seed is not None and args.seed not in names:
        raise UsageError(f"{path}: no seed {args.seed} (have {', '.join(map(str, sorted(names)))})")
    rows = [["seed", "projection", "shape", "min", "max", "mean |w|", "angle to fwd^T"]]
    for seed in seeds:
        w = {n: arrays[f"{n}_seed{seed}"] for n in names[seed]}
        for n, a in w.items():
            partner = _transpose_partner(n, w)
            angle = ""
            if partner is not None:
                f, b = w[partner], a
                cos = np.sum(f * b.T) / (np.linalg.norm(f) * np.linalg.norm(b) or 1.0)
                angle = f"{np.degrees(np.arccos(np.clip(cos, -1, 1))):.1f} ({partner})"
            rows.append([str(seed), n, "x".join(map(str, a.shape)), f"{a.min():+.4f}",
                         f"{a.max():+.4f}", f"{np.abs(a).mean():.4f}", angle])
    print("\n".join(_table(rows, "llrrrrl")))
    png = args.png or path.with_name("weights-matrices.png")
    seed = seeds[0]
    plot_matrices({n: arrays[f"{n}_seed{seed}"] for n in names[seed]}, png,
                  f"{path.parent.name}: weights (seed {seed})")
    print(f"\nwrote {png}")
    return 0


def _transpose_partner(name, weights):
    """The forward matrix a feedback matrix B<k> is compared with: W<k> of transposed shape."""
    m = re.fullmatch(r"B(\d*)", name)
    if m and f"W{m[1]}" in weights and weights[f"W{m[1]}"].shape == weights[name].shape[::-1]:
        return f"W{m[1]}"
    return None


# -- sal-hw build -------------------------------------------------------------

def cmd_build(args):
    from sal_hw.boards.build import build_board, summary
    out = args.out or Path("out") / "boards" / args.board
    from sal_hw.boards.build import BuildError
    try:
        report = build_board(args.board, out, f_core=args.clock * 1e6 if args.clock else None)
    except BuildError as e:
        print(f"{PROG}: build failed: {e}", file=sys.stderr)
        return 1
    print(summary(report))
    print(f"\nwrote {out / 'report.json'}")
    return 0 if report["fits"] and report["meets_timing"] else 1


# -- entry point -------------------------------------------------------------

def main(argv=None):
    """Run the ``sal-hw`` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except (NetfileError, UsageError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        from sal_hw.compiler import CompileError
        from sal_hw.driver import ChipError, LinkError, LoadError
        if isinstance(e, CompileError):
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
        if isinstance(e, (LinkError, ChipError, LoadError)):
            print(f"{PROG}: chip error: {e}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
