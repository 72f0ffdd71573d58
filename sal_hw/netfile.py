"""Network files: a YAML description of a network and how to run it.

A network file names one of the network builders of
:mod:`sal_hw.golden.network` (``kind``), gives the builder's arguments
(``network:``) and the run schedule (``run:``)::

    name: salnet-s              # also the output folder name
    kind: layered               # layered | pair | recurrent
    network:                    # the builder's arguments
      layers: [64, 64, 32, 10]
      tau: 10
      eta: 0.05
      b_rule: sal
      seed: 1
    run:
      steps: 40000
      phase: 1000               # apply period
      record_every: 1000
      model: fixed              # fixed | float
      seeds: [1, 2, 3]          # optional, default [network.seed]

Everything is validated before anything is built.  Every problem raises a
:class:`NetfileError` whose message names the file, the line, the key path
(``network.layers[2]``), what is wrong and what would be valid, for example::

    net.yaml:4: network.layers[2]: got -3, which is negative; expected a positive
    integer (neurons in the layer)

The format is described by a small schema (:class:`Mapping`, :class:`List`,
:class:`Int`, ...) per ``kind`` in :data:`KINDS`; a new kind (for example
explicit populations and projections with weights from ``.npy`` files) is a
new :class:`Kind` entry with its own schema and build function.
"""

import difflib
import inspect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from sal_hw.golden import network as _network
from sal_hw.golden.network import RULES

__all__ = ["NetfileError", "Netfile", "RunSpec", "Kind", "KINDS", "MODELS", "load", "loads",
           "format_path"]

#: Golden models a network file can ask for.
MODELS = ("fixed", "float")


class NetfileError(ValueError):
    """A network file that cannot be used, with where and why.

    Attributes: ``file``, ``path`` (key path tuple), ``line`` (1-based or
    None), ``problem`` and ``expected`` (what would be valid, or None).
    """

    def __init__(self, file, path=(), problem="", expected=None, line=None):
        self.file = str(file)
        self.path = tuple(path)
        self.problem = problem
        self.expected = expected
        self.line = line
        where = self.file if line is None else f"{self.file}:{line}"
        parts = [where]
        if self.path:
            parts.append(format_path(self.path))
        text = problem if expected is None else f"{problem}; expected {expected}"
        parts.append(text)
        super().__init__(": ".join(parts))


def format_path(path):
    """``("network", "layers", 2)`` -> ``"network.layers[2]"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# -- reading YAML with line numbers ------------------------------------------

@dataclass
class _Doc:
    """A parsed file: its data and the line of every key path."""

    file: str
    data: object
    lines: dict = field(default_factory=dict)      # path -> line of the value
    key_lines: dict = field(default_factory=dict)  # path -> line of the key

    def error(self, path, problem, expected=None, line=None, key=False):
        if line is None:
            line = (self.key_lines if key else self.lines).get(tuple(path))
            if line is None:     # a missing key: the line of the nearest parent there is
                p = tuple(path)
                while p and p not in self.lines:
                    p = p[:-1]
                line = self.lines.get(p)
        return NetfileError(self.file, path, problem, expected, line)


def _describe(value):
    """A value as the error messages name it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a true/false value)"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


def _parse(text, file):
    """Compose ``text`` and construct its values, recording lines and refusing duplicate keys."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = str(e.problem or e.context)
        if e.problem and e.context:
            what += f" ({e.context})"
        raise NetfileError(file, (), f"not valid YAML: {what}",
                           line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise NetfileError(file, (), f"not valid YAML: {e}") from None
    doc = _Doc(file, None)
    if node is None:
        raise NetfileError(file, (), "the file is empty",
                           "a mapping with the keys name, kind, network and run", line=1)
    constructor = yaml.constructor.SafeConstructor()

    def build(node, path):
        doc.lines[path] = node.start_mark.line + 1
        if isinstance(node, ScalarNode):
            try:
                return constructor.construct_object(node, deep=True)
            except yaml.YAMLError as e:
                raise doc.error(path, f"cannot read this value: {getattr(e, 'problem', e)}")
        if isinstance(node, SequenceNode):
            return [build(item, path + (i,)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            out = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, ScalarNode):
                    raise doc.error(path, "a key must be a plain name, not a list or mapping",
                                    line=line)
                key = constructor.construct_object(key_node)
                if not isinstance(key, str):
                    raise doc.error(path, f"key {_describe(key)} is not a name",
                                    "keys to be names such as 'steps'", line=line)
                if key in out:
                    raise doc.error(path + (key,), f"duplicate key {key!r} (first given on "
                                    f"line {doc.key_lines[path + (key,)]})",
                                    "every key once", line=line)
                doc.key_lines[path + (key,)] = line
                out[key] = build(value_node, path + (key,))
            return out
        raise doc.error(path, f"unsupported YAML node {type(node).__name__}")

    doc.data = build(node, ())
    return doc


# -- the schema -------------------------------------------------------------

class Spec:
    """One kind of value; :meth:`check` returns the value or raises NetfileError."""

    expected = "a value"

    def check(self, doc, path, value):
        raise NotImplementedError

    def fail(self, doc, path, value, problem=None):
        raise doc.error(path, problem or f"got {_describe(value)}", self.expected)


class Int(Spec):
    def __init__(self, min=None, max=None, what=""):
        self.min, self.max = min, max
        if min == 1 and max is None:
            base = "a positive integer"
        elif min == 0 and max is None:
            base = "a non-negative integer"
        elif min is not None and max is not None:
            base = f"an integer from {min} to {max}"
        elif min is not None:
            base = f"an integer of at least {min}"
        else:
            base = "an integer"
        self.expected = f"{base} ({what})" if what else base

    def check(self, doc, path, value):
        if isinstance(value, bool) or not isinstance(value, int):
            hint = None
            if isinstance(value, float) and value.is_integer():
                hint = f"got {_describe(value)}, which is not written as an integer"
            self.fail(doc, path, value, hint)
        if self.min is not None and value < self.min:
            self.fail(doc, path, value, f"got {value}, which is "
                      f"{'zero' if value == 0 else 'negative' if value < 0 else 'too small'}")
        if self.max is not None and value > self.max:
            self.fail(doc, path, value, f"got {value}, which is too large")
        return value


class Num(Spec):
    def __init__(self, min=None, what=""):
        self.min = min
        base = "a non-negative number" if min == 0 else "a number"
        self.expected = f"{base} ({what})" if what else base

    def check(self, doc, path, value):
        if isinstance(value, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value.strip()):
            self.fail(doc, path, value, f"got {_describe(value)}: YAML reads exponent notation "
                      f"without a decimal point as text; write it with a point, e.g. 5.0e-2")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(doc, path, value)
        if not math.isfinite(value):
            self.fail(doc, path, value, f"got {value}, which is not finite")
        if self.min is not None and value < self.min:
            self.fail(doc, path, value, f"got {value}, which is negative")
        return float(value)


class Choice(Spec):
    def __init__(self, options, what=""):
        self.options = tuple(options)
        base = "one of " + ", ".join(self.options)
        self.expected = f"{base} ({what})" if what else base

    def check(self, doc, path, value):
        if isinstance(value, bool):
            word = "off, no or false" if not value else "on, yes or true"
            self.fail(doc, path, value, f"got {_describe(value)}: YAML reads unquoted {word} "
                      f"as a true/false value; quote the word, e.g. \"off\"")
        if not isinstance(value, str) or value not in self.options:
            close = difflib.get_close_matches(str(value), self.options, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.fail(doc, path, value, f"got {_describe(value)}{hint}")
        return value


class Name(Spec):
    expected = "a name of letters, digits, '-', '_' and '.' (it names the output folder)"

    def check(self, doc, path, value):
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value):
            self.fail(doc, path, value)
        return value


class List(Spec):
    def __init__(self, item, min_len=0, length=None, unique=False, what=""):
        self.item, self.min_len, self.length, self.unique = item, min_len, length, unique
        if length is not None:
            base = f"a list of {length} items"
        elif min_len > 1:
            base = f"a list of at least {min_len} items"
        elif min_len == 1:
            base = "a non-empty list"
        else:
            base = "a list"
        if what:
            base += f" ({what})"
        self.expected = f"{base}, each {item.expected}" + (", no repeats" if unique else "")

    def check(self, doc, path, value):
        if not isinstance(value, list):
            self.fail(doc, path, value)
        if self.length is not None and len(value) != self.length:
            self.fail(doc, path, value, f"got {len(value)} items")
        if len(value) < self.min_len:
            self.fail(doc, path, value, f"got {len(value)} item{'s' * (len(value) != 1)}")
        out = [self.item.check(doc, path + (i,), v) for i, v in enumerate(value)]
        if self.unique:
            for i, v in enumerate(out):
                if v in out[:i]:
                    self.fail(doc, path + (i,), v, f"{v!r} is repeated")
        return out


@dataclass
class Key:
    """A key of a :class:`Mapping`: its spec, whether it must be given, and a default."""

    spec: Spec
    required: bool = False
    default: object = None


class AnyMapping(Spec):
    """A mapping whose keys another schema checks (chosen by a sibling key, like ``kind``)."""

    def __init__(self, what="a mapping"):
        self.expected = what

    def check(self, doc, path, value):
        if not isinstance(value, dict):
            self.fail(doc, path, value)
        return value


class Mapping(Spec):
    def __init__(self, keys, what="a mapping"):
        self.keys = dict(keys)
        self.what = what
        self.expected = f"{what} with the keys {', '.join(self.keys)}"

    def check(self, doc, path, value):
        if not isinstance(value, dict):
            self.fail(doc, path, value)
        for k in value:
            if k not in self.keys:
                close = difflib.get_close_matches(k, self.keys, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise doc.error(path + (k,), f"unknown key {k!r}{hint}",
                                f"one of the keys {', '.join(self.keys)}"
                                + (f" of {self.what}" if self.what != "a mapping" else ""),
                                key=True)
        for k, key in self.keys.items():
            if key.required and k not in value:
                # the line of the parent's key ("run:"), else where the mapping starts
                line = doc.key_lines.get(path, doc.lines.get(path))
                raise doc.error(path + (k,), f"missing required key {k!r}"
                                + (f" in {format_path(path)}" if path else ""),
                                key.spec.expected, line=line)
        out = {}
        for k, key in self.keys.items():
            if k in value:
                out[k] = key.spec.check(doc, path + (k,), value[k])
            elif key.default is not None:
                out[k] = key.default
        return out


# -- kinds of network -------------------------------------------------------

@dataclass
class Kind:
    """A ``kind:`` of network file: the schema of its ``network:`` section and how to build it.

    ``build(args, name)`` returns a :class:`~sal_hw.golden.network.Network`;
    ``args`` are the checked ``network:`` values with the builder's defaults
    filled in.  ``defaults`` are those builder defaults.
    """

    schema: Mapping
    build: object
    defaults: dict = field(default_factory=dict)


def _builder_defaults(fn, skip=("name",)):
    return {k: (list(p.default) if isinstance(p.default, tuple) else p.default)
            for k, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty and k not in skip}


_TAU = Int(1, what="refractory and synaptic time constant in steps")
_ETA = Num(0, what="learning rate")
_SEED = Int(0, what="seed of the initial weights and the firing random numbers")


def _build_layered(args, name):
    return _network.layered(**args, name=name)


def _build_pair(args, name):
    net = _network.pair(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})
    net.name = name
    return net


def _build_recurrent(args, name):
    return _network.recurrent(**args, name=name)


#: The kinds of network a file can describe.
KINDS = {
    "layered": Kind(Mapping({
        "layers": Key(List(Int(1, what="neurons in the layer"), min_len=2,
                           what="layer sizes, input layer first"), required=True),
        "tau": Key(_TAU), "eta": Key(_ETA), "seed": Key(_SEED),
        "b_rule": Key(Choice(RULES, what="plasticity rule of the feedback weights B")),
    }, "a layered network"), _build_layered, _builder_defaults(_network.layered)),
    "pair": Kind(Mapping({
        "w": Key(List(Num(), length=2, what="weights [w_ab, w_ba]")),
        "bias": Key(List(Num(), length=2, what="biases [b_a, b_b]")),
        "tau": Key(_TAU), "eta": Key(_ETA), "seed": Key(_SEED),
        "plastic": Key(Choice(("both", "ab", "ba", "none"), what="which weights learn")),
    }, "a pair network"), _build_pair, _builder_defaults(_network.pair)),
    "recurrent": Kind(Mapping({
        "n": Key(Int(2, what="number of neurons"), required=True),
        "tau": Key(_TAU), "eta": Key(_ETA), "seed": Key(_SEED),
        "rule": Key(Choice(RULES, what="plasticity rule of all synapses")),
    }, "a recurrent network"), _build_recurrent, _builder_defaults(_network.recurrent)),
}

_RUN = Mapping({
    "steps": Key(Int(1, what="timesteps to run"), required=True),
    "phase": Key(Int(1, what="apply period in steps"), default=1000),
    "record_every": Key(Int(1, what="steps between angle records"), default=1000),
    "model": Key(Choice(MODELS, what="golden model"), default="fixed"),
    "seeds": Key(List(Int(0), min_len=1, unique=True, what="one run per seed")),
}, "run")

_TOP = Mapping({
    "name": Key(Name(), required=True),
    "kind": Key(Choice(KINDS, what="the network builder"), required=True),
    # checked in _check: network against the kind's schema, then run
    "network": Key(AnyMapping("a mapping of the network builder's arguments"), required=True),
    "run": Key(AnyMapping("a mapping with the keys " + ", ".join(_RUN.keys)), required=True),
}, "a network file")


@dataclass
class RunSpec:
    steps: int
    phase: int = 1000
    record_every: int = 1000
    model: str = "fixed"
    seeds: list = field(default_factory=lambda: [1])


@dataclass
class Netfile:
    """A checked network file: the built network (with the file's seed) and its run schedule."""

    path: Path
    name: str
    kind: str
    params: dict        # the builder's arguments, defaults filled in
    run: RunSpec
    network: object     # the Network built with params["seed"]
    lines: dict = field(default_factory=dict, repr=False)   # key path -> line of its key

    @property
    def file(self):
        return str(self.path)

    def error(self, path, problem, expected=None):
        """A NetfileError about ``path`` of this file, at the line of that key."""
        return NetfileError(self.file, path, problem, expected, self.lines.get(tuple(path)))

    def build(self, seed=None):
        """The network again, with ``seed`` in place of the file's (new weights and firing noise)."""
        args = dict(self.params)
        if seed is not None:
            args["seed"] = seed
        try:
            return KINDS[self.kind].build(args, self.name)
        except ValueError as e:
            raise self.error(("network",), f"cannot build the network: {e}") from None

    def quantize(self, params=None, apply_period=None, seed=None):
        """Fixed-point image of the network (see golden.quantize), errors as NetfileError."""
        from sal_hw.golden.quantize import quantize
        net = self.network if seed is None else self.build(seed)
        try:
            return quantize(net, params=params, apply_period=apply_period or self.run.phase)
        except ValueError as e:
            raise self.error(("network",), f"does not fit the fixed-point core: {e}") from None


def _check(doc):
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), f"the file holds {_describe(data)}, not a mapping",
                        "a mapping with the keys name, kind, network and run", line=1)
    top = _TOP.check(doc, (), data)
    kind = KINDS[top["kind"]]
    args = dict(kind.defaults)
    args.update(kind.schema.check(doc, ("network",), data["network"]))
    run = _RUN.check(doc, ("run",), data["run"])
    run.setdefault("seeds", [args["seed"]])
    path = Path(doc.file)
    nf = Netfile(path, top["name"], top["kind"], args, RunSpec(**run), None, dict(doc.key_lines))
    nf.network = nf.build()
    return nf


def loads(text, file="<string>"):
    """Check and build a network file given as text; ``file`` names it in errors."""
    return _check(_parse(text, str(file)))


def load(path):
    """Check and build the network file at ``path``.

    Returns a :class:`Netfile`; raises :class:`NetfileError` on any problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NetfileError(path, (), "no such file") from None
    except IsADirectoryError:
        raise NetfileError(path, (), "is a folder, not a network file") from None
    except UnicodeDecodeError as e:
        raise NetfileError(path, (), f"not a text file ({e.reason} at byte {e.start})",
                           "a YAML network file") from None
    except OSError as e:
        raise NetfileError(path, (), f"cannot read the file: {e.strerror}") from None
    nf = _check(_parse(text, str(path)))
    return nf
