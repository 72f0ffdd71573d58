"""Network files: a YAML description of a network and how to run it.

A network file names one of the network builders of
:mod:`sal_hw.golden.network` (``kind``), gives the builder's arguments
(``network:``) and the run schedule (``run:``)::

    name: salnet-s              # also the output folder name
    kind: layered               # layered | pair | recurrent | custom
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
:class:`Int`, ...) per ``kind`` in :data:`KINDS`; a new kind is a new
:class:`Kind` entry with its own schema, cross-checks and build function.

``kind: custom`` describes a network explicitly: populations (size, bias)
and projections (pre, post, weights, rule) with weights inline, from
``.npy`` files (relative to the network file's folder) or drawn by an
initializer::

    name: two-layer
    kind: custom
    network:
      seed: 7                   # firing noise and the initializers' default seeds
      tau: 10                   # as the builders: tau_ref = tau_syn = tau, kernel 2 tau
      eta: 0.05                 # learning rate of projections that do not give one
      populations:
        - {name: in,  size: 20, bias: -0.5}       # bias: number, list, {npy: ..} or {init: ..}
        - {name: hid, size: 12}                   # bias 0
      projections:              # weights are (post, pre), like torch.nn.Linear
        - {name: W1, pre: in, post: hid, weights: {init: normal, std: 0.3, seed: 3}}
        - {name: B1, pre: hid, post: in, weights: {npy: data/b1.npy}, rule: sal}
    run:
      steps: 2000
      schedule:                 # optional, every kind; default [{run: steps}]
        - {run: 1000}
        - {apply: true}
        - {inject: {population: in, neurons: [0, 3], at: 1005}}
        - {read: weights}
        - {run: 1000}

Every value is checked before anything is built: names, sizes, shapes, that
``.npy`` files exist and hold finite numbers, and that weights and biases
fit the default core (:data:`WEIGHT_LIMIT`, :data:`BIAS_RANGE`).
"""

import difflib
import inspect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from sal_hw.golden import network as _network
from sal_hw.golden.network import RULES
from sal_hw.golden.params import CoreParams
from sal_hw.golden.prng import derive_seed

__all__ = ["NetfileError", "Netfile", "RunSpec", "Action", "Kind", "KINDS", "MODELS", "INITS",
           "READS", "WEIGHT_LIMIT", "BIAS_RANGE", "MAX_NEURONS", "load", "loads",
           "format_path"]

#: Golden models a network file can ask for.
MODELS = ("fixed", "float")

_CORE = CoreParams()
#: Largest weight magnitude a custom network may use (and its ``w_max``): what the
#: quantizer represents on the default core, 127 * 2**(7 - 12) = 3.96875 (8-bit
#: codes times the largest weight exponent, 7; docs/spec.md section 6).
WEIGHT_LIMIT = _CORE.weight_range[1] * 2.0 ** (7 - _CORE.u_frac)
#: Range of a custom network's biases: the default core's 16-bit bias with 12
#: fractional bits, -8 .. 32767 / 4096 (quantize clips anything beyond).
BIAS_RANGE = (_CORE.bias_range[0] / 2.0 ** _CORE.u_frac, _CORE.bias_range[1] / 2.0 ** _CORE.u_frac)
#: Most neurons a custom network may have: the largest core (CoreParams) the
#: quantizer and the compiler build the network's image on.
MAX_NEURONS = 4096
#: derive_seed streams of the initializers' default seeds (0 is the firing PRNGs')
SEED_STREAM_WEIGHTS = 0x10
SEED_STREAM_BIAS = 0x11


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

    def __init__(self, what=None):
        if what is not None:
            self.expected = f"a name of letters, digits, '-', '_' and '.' ({what})"

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


class TrueFlag(Spec):
    """Only ``true``: a switch that is either given or left out (``{apply: true}``)."""

    def __init__(self, what):
        self.expected = f"true ({what})"

    def check(self, doc, path, value):
        if value is not True:
            self.fail(doc, path, value)
        return True


class OneOf(Spec):
    """A mapping of exactly one key that says what the item is: ``{run: 1000}``.

    Returns ``(key, checked value)``.
    """

    def __init__(self, options, what="an item"):
        self.options = dict(options)
        self.what = what
        self.expected = (f"{what}: a mapping of one of the keys {', '.join(self.options)}")

    def check(self, doc, path, value):
        if not isinstance(value, dict):
            self.fail(doc, path, value)
        for k in value:
            if k not in self.options:
                close = difflib.get_close_matches(k, self.options, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise doc.error(path + (k,), f"unknown key {k!r}{hint}",
                                f"one of the keys {', '.join(self.options)} of {self.what}",
                                key=True)
        if len(value) != 1:
            got = f"{len(value)} keys ({', '.join(value)})" if value else "an empty mapping"
            self.fail(doc, path, value, f"got {got}")
        (k, v), = value.items()
        return k, self.options[k].check(doc, path + (k,), v)


class FileName(Spec):
    expected = "a file name, relative to the network file's folder"

    def check(self, doc, path, value):
        if not isinstance(value, str) or not value.strip():
            self.fail(doc, path, value)
        return value


#: Initializers of ``{init: ...}`` weights and biases: their parameters (required
#: ones without a default).  Each also takes an optional ``seed``.
INITS = {
    "normal": {"std": Key(Num(0, what="standard deviation"), required=True),
               "mean": Key(Num(what="mean"), default=0.0)},
    "uniform": {"low": Key(Num(what="lower bound"), required=True),
                "high": Key(Num(what="upper bound"), required=True)},
    "zeros": {},
    "constant": {"value": Key(Num(what="the value of every entry"), required=True)},
}
_INIT_SEED = Key(Int(0, what="seed of this initializer; default derived from network.seed"))
_NPY_MAGIC = b"\x93NUMPY"


class _Shown(dict):
    """A checked mapping, printed compactly as YAML flow style (``sal-hw info`` prints it)."""

    def __repr__(self):
        return "{" + ", ".join(f"{k}: {v!r}" if not isinstance(v, str) else f"{k}: {v}"
                               for k, v in self.items()) + "}"


class _Npy(_Shown):
    """``{npy: FILE}`` as the file says it; ``array`` holds what was loaded."""

    array = None


class _Inline(list):
    """An inline matrix: printed by its shape, not its numbers."""

    def __repr__(self):
        return f"<{len(self)}x{len(self[0]) if self else 0} inline>"


class ArraySource(Spec):
    """Numbers given inline, from a ``.npy`` file or by an initializer.

    ``ndim`` 1 (a bias: a number, a list, ``{npy: FILE}`` or ``{init: ...}``)
    or 2 (a weight or mask matrix: a list of rows, ``{npy: FILE}``,
    ``{init: ...}``).  ``words`` are strings that stand for whole arrays
    (a mask's ``all``, ``no_self``); ``boolean`` takes 0/1/true/false
    entries and no initializer.  The shape is checked later, against the
    populations (:func:`_resolve_custom`).
    """

    def __init__(self, ndim, what, scalar=False, boolean=False, words=()):
        self.ndim, self.scalar, self.boolean, self.words = ndim, scalar, boolean, tuple(words)
        entry = "0/1 or true/false" if boolean else "numbers"
        forms = []
        if words:
            forms.append(" or ".join(self.words))
        if scalar:
            forms.append("a number")
        forms.append(f"a list of {entry}" if ndim == 1 else f"a list of rows of {entry}")
        forms.append("{npy: FILE}")
        if not boolean:
            forms.append("{init: " + "|".join(INITS) + ", ...}")
        self.expected = f"{', '.join(forms[:-1])} or {forms[-1]} ({what})"
        self._entry = Num() if not boolean else None

    def _item(self, doc, path, value):
        if self.boolean:
            if value in (0, 1) and not isinstance(value, float):
                return bool(value)
            raise doc.error(path, f"got {_describe(value)}", "0, 1, true or false")
        return self._entry.check(doc, path, value)

    def check(self, doc, path, value):
        if isinstance(value, str) and value in self.words:
            return value
        if self.scalar and isinstance(value, (int, float)) and not isinstance(value, bool):
            return Num().check(doc, path, value)
        if isinstance(value, list):
            return self._inline(doc, path, value)
        if isinstance(value, dict):
            if "npy" in value:
                return self._npy(doc, path, value)
            if "init" in value and not self.boolean:
                return self._init(doc, path, value)
            keys = ["npy"] + ([] if self.boolean else ["init"])
            for k in value:
                close = difflib.get_close_matches(k, keys, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise doc.error(path + (k,), f"unknown key {k!r}{hint}",
                                "{npy: FILE}" + ("" if self.boolean else
                                                  " or {init: " + "|".join(INITS) + ", ...}"),
                                key=True)
            self.fail(doc, path, value, "got an empty mapping")
        self.fail(doc, path, value)

    def _inline(self, doc, path, value):
        if self.ndim == 1:
            return [self._item(doc, path + (i,), v) for i, v in enumerate(value)]
        if not value:
            self.fail(doc, path, value, "got an empty list")
        rows = []
        for i, row in enumerate(value):
            if not isinstance(row, list):
                raise doc.error(path + (i,), f"got {_describe(row)}, not a row",
                                "a list of rows, each a list of "
                                + ("0/1 values" if self.boolean else "numbers"))
            if len(row) != len(value[0]):
                raise doc.error(path + (i,), f"row {i} has {len(row)} entries, row 0 has "
                                f"{len(value[0])}", "rows of equal length")
            rows.append([self._item(doc, path + (i, j), v) for j, v in enumerate(row)])
        return _Inline(rows)

    def _npy(self, doc, path, value):
        Mapping({"npy": Key(FileName(), required=True)}, "an npy source").check(doc, path, value)
        name = value["npy"]
        where = path + ("npy",)
        file = Path(doc.file).parent / name
        expected = f"a .npy file written by numpy.save, relative to the folder of {doc.file}"
        if not file.is_file():
            what = "a folder" if file.is_dir() else "no such file"
            raise doc.error(where, f"{name!r}: {what} (looked for {file.resolve()})", expected)
        try:
            with open(file, "rb") as f:
                magic = f.read(6)
            if magic[:2] == b"PK":
                raise ValueError("it is a zip (.npz) archive, not a single array")
            if magic != _NPY_MAGIC:
                raise ValueError("it does not start with the .npy magic bytes")
            array = np.load(file, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise doc.error(where, f"cannot read {name!r} as a NumPy array: {e}",
                            expected) from None
        kinds = "biu" if self.boolean else "biuf"
        if array.dtype.kind not in kinds:
            raise doc.error(where, f"{name!r} holds {array.dtype} values, not "
                            + ("booleans" if self.boolean else "numbers"),
                            "an array of " + ("bool or 0/1 integers" if self.boolean else
                                              "integers or floats"))
        out = _Npy(npy=name)
        out.array = array
        return out

    def _init(self, doc, path, value):
        init = Choice(INITS, what="initializer").check(doc, path + ("init",), value["init"])
        keys = {"init": Key(Choice(INITS), required=True), **INITS[init], "seed": _INIT_SEED}
        out = Mapping(keys, f"a {init} initializer").check(doc, path, value)
        if init == "uniform" and out["low"] > out["high"]:
            raise doc.error(path + ("high",), f"high {out['high']:g} is below low {out['low']:g}",
                            f"a number of at least {out['low']:g}")
        return _Shown(out)


# -- kinds of network -------------------------------------------------------

@dataclass
class Kind:
    """A ``kind:`` of network file: the schema of its ``network:`` section and how to build it.

    ``build(args, name)`` returns a :class:`~sal_hw.golden.network.Network`;
    ``args`` are the checked ``network:`` values with the builder's defaults
    filled in.  ``defaults`` are those builder defaults.  ``populations(args)``
    lists the ``(name, size)`` of the populations the network will have (the
    run schedule's injections are checked against it).  ``check(doc, args)``,
    if given, checks what the schema cannot (names that refer to each other,
    shapes, files) and returns the args.
    """

    schema: Mapping
    build: object
    defaults: dict = field(default_factory=dict)
    populations: object = None
    check: object = None


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


def _fail(doc, path, problem, expected=None, line=None):
    """An error at ``path``: a NetfileError with ``doc``, else (at build time) a ValueError."""
    if doc is not None:
        return doc.error(path, problem, expected, line=line)
    return ValueError(f"{format_path(path)}: {problem}"
                      + (f"; expected {expected}" if expected else ""))


def _line_note(doc, path):
    line = doc.lines.get(tuple(path)) if doc is not None else None
    return f", line {line}" if line else ""


def _index(idx):
    return "".join(f"[{int(i)}]" for i in idx)


def _draw(spec, shape, default_seed):
    """Values of an ``{init: ...}`` source (its own seed, else ``default_seed``)."""
    seed = spec.get("seed")
    rng = np.random.default_rng(default_seed if seed is None else seed)
    kind = spec["init"]
    if kind == "normal":
        return rng.normal(spec["mean"], spec["std"], size=shape)
    if kind == "uniform":
        return rng.uniform(spec["low"], spec["high"], size=shape)
    if kind == "zeros":
        return np.zeros(shape)
    return np.full(shape, spec["value"], dtype=float)


def _describe_source(spec):
    if isinstance(spec, _Npy):
        return f"the file {spec['npy']!r}"
    if isinstance(spec, dict):
        args = ", ".join(f"{k} {v:g}" for k, v in spec.items() if k not in ("init", "seed"))
        return f"the {spec['init']} initializer" + (f" ({args})" if args else "")
    return "the list"


def _shaped(doc, path, spec, shape, default_seed, what, transposed_hint):
    """The array ``spec`` stands for, checked to have ``shape`` and finite entries."""
    if isinstance(spec, _Npy):
        arr = spec.array
        where = path + ("npy",)
        if arr.shape != shape:
            hint = ("; it is the transpose of what is expected" if transposed_hint and
                    len(shape) == 2 and arr.shape == shape[::-1] else "")
            raise _fail(doc, where, f"{spec['npy']!r} holds an array of shape {arr.shape}{hint}",
                        f"shape {shape}: {what}")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise _fail(doc, where, f"{spec['npy']!r} holds {arr[tuple(bad)]} at {_index(bad)}",
                        "finite numbers")
        return np.array(arr)
    if isinstance(spec, dict):
        return _draw(spec, shape, default_seed)
    if isinstance(spec, (int, float)):          # a bias given as one number
        return np.full(shape, float(spec))
    got = (len(spec),) if len(shape) == 1 else (len(spec), len(spec[0]))
    if got != shape:
        if len(shape) == 1:
            problem = f"got {got[0]} entr{'y' if got[0] == 1 else 'ies'}"
        else:
            problem = f"got {got[0]} rows of {got[1]}, shape {got}"
            if transposed_hint and got == shape[::-1]:
                problem += "; it is the transpose of what is expected"
        raise _fail(doc, path, problem, f"shape {shape}: {what}")
    arr = np.array(spec)
    return arr if arr.dtype == bool else arr.astype(float)


def _check_range(doc, path, spec, values, lo, hi, what, expected):
    """Refuse entries outside lo .. hi, naming the first one (and its line when inline)."""
    bad = np.argwhere((values < lo) | (values > hi))
    if not len(bad):
        return
    idx = tuple(int(i) for i in bad[0])
    v = values[idx]
    scalar = isinstance(spec, (int, float))
    at = path + idx if isinstance(spec, list) else (
        path + ("npy",) if isinstance(spec, _Npy) else path)
    if isinstance(spec, list) or scalar:
        problem = f"got {v:g}"
    else:
        problem = f"{what}{_index(idx)} is {v:g} ({_describe_source(spec)})"
    raise _fail(doc, at, f"{problem}, outside the range the core represents", expected)


_WEIGHT_RANGE = (f"weights of magnitude at most {WEIGHT_LIMIT:g} (the default core's "
                 f"{_CORE.weight_bits}-bit codes at the largest weight exponent, 7: "
                 f"{_CORE.weight_range[1]} * 2**(7 - {_CORE.u_frac}))")
_BIAS_EXPECTED = (f"biases from {BIAS_RANGE[0]:g} to {BIAS_RANGE[1]:g} (the default core's "
                  f"{_CORE.bias_bits}-bit bias with {_CORE.u_frac} fractional bits)")


def _resolve_custom(args, seed, doc=None):
    """Populations and projections of a custom network, every reference, shape and range checked.

    Errors are NetfileErrors at the offending key when ``doc`` is given (while
    loading), else ValueErrors naming the key path (a rebuild with another
    seed whose initializers draw out of range).  Returns ``(populations,
    projections)``: lists of keyword arguments of
    :class:`~sal_hw.golden.network.Population` and ``Projection``.
    """
    base = ("network",)
    pops, first, total = [], {}, 0
    for i, p in enumerate(args["populations"]):
        path = base + ("populations", i)
        name = p["name"]
        total += p["size"]
        if total > MAX_NEURONS:
            raise _fail(doc, path + ("size",), f"the populations up to here add up to {total} "
                        f"neurons, more than the {MAX_NEURONS} a network may have",
                        f"populations of {MAX_NEURONS} neurons in all (the largest core the "
                        f"quantizer builds)")
        if name in first:
            raise _fail(doc, path + ("name",), f"population {name!r} is defined twice (first as "
                        f"{format_path(first[name])}{_line_note(doc, first[name])})",
                        "a name no other population has")
        first[name] = path
        bias = _shaped(doc, path + ("bias",), p["bias"], (p["size"],),
                       derive_seed(seed, SEED_STREAM_BIAS, i),
                       f"one bias per neuron of population {name!r}", False)
        _check_range(doc, path + ("bias",), p["bias"], bias, *BIAS_RANGE, "bias",
                     _BIAS_EXPECTED)
        pops.append({"name": name, "size": p["size"], "bias": bias})
    sizes = {p["name"]: p["size"] for p in pops}
    projs, first, pairs = [], {}, {}
    for j, pr in enumerate(args["projections"]):
        path = base + ("projections", j)
        name = pr["name"]
        if name in first:
            raise _fail(doc, path + ("name",), f"projection {name!r} is defined twice (first as "
                        f"{format_path(first[name])}{_line_note(doc, first[name])})",
                        "a name no other projection has")
        first[name] = path
        for end in ("pre", "post"):
            if pr[end] not in sizes:
                close = difflib.get_close_matches(pr[end], sizes, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise _fail(doc, path + (end,), f"projection {name!r}: no population "
                            f"{pr[end]!r}{hint}", "one of the populations " + ", ".join(sizes))
        pair = (pr["pre"], pr["post"])
        if pair in pairs:
            raise _fail(doc, path, f"projection {name!r} connects {pair[0]} -> {pair[1]} like "
                        f"{format_path(pairs[pair])}{_line_note(doc, pairs[pair])}; a core holds "
                        f"one weight per (pre, post) neuron pair",
                        "at most one projection per (pre, post) pair of populations")
        pairs[pair] = path
        shape = (sizes[pr["post"]], sizes[pr["pre"]])
        what = (f"(post, pre): one row per neuron of {pr['post']!r}, one column per neuron "
                f"of {pr['pre']!r}")
        weights = _shaped(doc, path + ("weights",), pr["weights"], shape,
                          derive_seed(seed, SEED_STREAM_WEIGHTS, j), what, True)
        mask = pr.get("mask", "all")
        if mask == "all":
            mask = np.ones(shape, dtype=bool)
        elif mask == "no_self":
            if pr["pre"] != pr["post"]:
                raise _fail(doc, path + ("mask",), f"no_self needs a projection from a "
                            f"population onto itself; {name!r} goes from {pr['pre']!r} to "
                            f"{pr['post']!r}", "all, a list of rows of 0/1 or {npy: FILE}")
            mask = ~np.eye(shape[0], dtype=bool)
        else:
            mask = _shaped(doc, path + ("mask",), mask, shape, 0, what, True)
            if mask.dtype != bool:
                if not np.all((mask == 0) | (mask == 1)):
                    bad = np.argwhere((mask != 0) & (mask != 1))[0]
                    raise _fail(doc, path + ("mask", "npy"), f"holds {mask[tuple(bad)]} at "
                                f"{_index(bad)}", "0 or 1 entries (or booleans)")
                mask = mask.astype(bool)
        weights = np.where(mask, weights, 0.0)
        _check_range(doc, path + ("weights",), pr["weights"], weights, -WEIGHT_LIMIT,
                     WEIGHT_LIMIT, "weight", _WEIGHT_RANGE)
        peak = float(np.max(np.abs(weights), initial=0.0))
        w_max = pr.get("w_max")
        if w_max is not None:
            if w_max == 0 or w_max > WEIGHT_LIMIT:
                raise _fail(doc, path + ("w_max",), f"got {w_max:g}, which is "
                            + ("zero" if w_max == 0 else "more than the core represents"),
                            f"a number from {max(peak, 1e-12):g} to {WEIGHT_LIMIT:g}")
            if w_max < peak:
                at = tuple(np.argwhere(np.abs(weights) == peak)[0])
                raise _fail(doc, path + ("w_max",), f"got {w_max:g}, below the largest initial "
                            f"weight magnitude {peak:g} (weights{_index(at)}); the quantizer "
                            f"would clip it", f"a number from {peak:g} to {WEIGHT_LIMIT:g}")
        projs.append({"name": name, "pre": pr["pre"], "post": pr["post"], "weights": weights,
                      "rule": pr["rule"], "eta": pr["eta"], "mask": mask, "w_max": w_max})
    return pops, projs


def _check_custom(doc, args):
    args["populations"] = [_Shown(p) for p in args["populations"]]
    args["projections"] = [_Shown(p) for p in args["projections"]]
    for pr in args["projections"]:      # the learning rate: the network's, unless given
        if "eta" not in pr:
            pr["eta"] = args["eta"] if pr["rule"] != "off" else 0.0
    _resolve_custom(args, args["seed"], doc)
    return args


def _build_custom(args, name):
    pops, projs = _resolve_custom(args, args["seed"])
    tau = args["tau"]
    net = _network.Network([_network.Population(**p) for p in pops],
                           [_network.Projection(**p) for p in projs],
                           tau_ref=tau, tau_syn=tau, kernel=_network.exp_kernel(tau, 2 * tau),
                           norm=2 * tau, seed=args["seed"], name=name)
    # As the builders do (docs/spec.md section 6): a learning feedback projection
    # without its own w_max gets at least its forward partner's range, so it can reach W^T.
    given = {p["name"] for p in projs if p["w_max"] is not None}
    for fwd, fb in net.alignment_pairs():
        b = net.projection(fb)
        if b.plastic and fb not in given:
            b.w_max = max(b.w_max, net.projection(fwd).w_max)
    return net


_POPULATION = Mapping({
    "name": Key(Name("the population's name"), required=True),
    "size": Key(Int(1, what="neurons in the population"), required=True),
    "bias": Key(ArraySource(1, "the neurons' biases in potential units, one per neuron",
                            scalar=True), default=0.0),
}, "a population")

_PROJECTION = Mapping({
    "name": Key(Name("the projection's name"), required=True),
    "pre": Key(Name("the population whose spikes the projection carries"), required=True),
    "post": Key(Name("the population the projection drives"), required=True),
    "weights": Key(ArraySource(2, "the weights, shape (post, pre) like torch.nn.Linear"),
                   required=True),
    "rule": Key(Choice(RULES, what="plasticity rule; off: fixed weights"), default="off"),
    "eta": Key(Num(0, what="learning rate; default: network.eta, or 0 when rule is off")),
    "mask": Key(ArraySource(2, "which synapses exist, shape (post, pre); default all",
                            boolean=True, words=("all", "no_self"))),
    "w_max": Key(Num(0, what="largest magnitude the weights must reach; sets the fixed-point "
                     "scale; default: the largest initial magnitude")),
}, "a projection")

#: The kinds of network a file can describe.
KINDS = {
    "layered": Kind(Mapping({
        "layers": Key(List(Int(1, what="neurons in the layer"), min_len=2,
                           what="layer sizes, input layer first"), required=True),
        "tau": Key(_TAU), "eta": Key(_ETA), "seed": Key(_SEED),
        "b_rule": Key(Choice(RULES, what="plasticity rule of the feedback weights B")),
    }, "a layered network"), _build_layered, _builder_defaults(_network.layered),
        populations=lambda a: [(f"L{i}", n) for i, n in enumerate(a["layers"])]),
    "pair": Kind(Mapping({
        "w": Key(List(Num(), length=2, what="weights [w_ab, w_ba]")),
        "bias": Key(List(Num(), length=2, what="biases [b_a, b_b]")),
        "tau": Key(_TAU), "eta": Key(_ETA), "seed": Key(_SEED),
        "plastic": Key(Choice(("both", "ab", "ba", "none"), what="which weights learn")),
    }, "a pair network"), _build_pair, _builder_defaults(_network.pair),
        populations=lambda a: [("a", 1), ("b", 1)]),
    "recurrent": Kind(Mapping({
        "n": Key(Int(2, what="number of neurons"), required=True),
        "tau": Key(_TAU), "eta": Key(_ETA), "seed": Key(_SEED),
        "rule": Key(Choice(RULES, what="plasticity rule of all synapses")),
    }, "a recurrent network"), _build_recurrent, _builder_defaults(_network.recurrent),
        populations=lambda a: [("N", a["n"])]),
    "custom": Kind(Mapping({
        "seed": Key(_SEED, default=1), "tau": Key(_TAU, default=10),
        "eta": Key(Num(0, what="learning rate of the projections that do not give one"),
                   default=0.05),
        "populations": Key(List(_POPULATION, min_len=1, what="the network's populations, in "
                                "neuron order"), required=True),
        "projections": Key(List(_PROJECTION, what="blocks of synapses between populations"),
                           default=[]),
    }, "a custom network"), _build_custom, {"seed": 1, "tau": 10, "eta": 0.05},
        populations=lambda a: [(p["name"], p["size"]) for p in a["populations"]],
        check=_check_custom),
}

#: What a schedule's ``{read: ...}`` can read back.
READS = ("weights", "spike_counts", "angles")

_SCHEDULE_ITEM = OneOf({
    "run": Int(1, what="steps to run"),
    "apply": TrueFlag("apply the accumulated weight updates now, on every core"),
    "inject": Mapping({
        "population": Key(Name("the population whose neurons get the spikes"), required=True),
        "neurons": Key(List(Int(0, what="neuron index in the population"), min_len=1,
                            unique=True), required=True),
        "at": Key(Int(0, what="absolute step at which the spikes arrive"), required=True),
    }, "an injection"),
    "read": Choice(READS, what="state to read back"),
}, "a schedule item")

_RUN = Mapping({
    "steps": Key(Int(1, what="timesteps to run"), required=True),
    "phase": Key(Int(1, what="apply period in steps"), default=1000),
    "record_every": Key(Int(1, what="steps between angle records"), default=1000),
    "model": Key(Choice(MODELS, what="golden model"), default="fixed"),
    "seeds": Key(List(Int(0), min_len=1, unique=True, what="one run per seed")),
    "schedule": Key(List(_SCHEDULE_ITEM, min_len=1, what="run, apply, inject and read items "
                         "in order; the run items add up to steps")),
}, "run")

_TOP = Mapping({
    "name": Key(Name(), required=True),
    "kind": Key(Choice(KINDS, what="the network builder"), required=True),
    # checked in _check: network against the kind's schema, then run
    "network": Key(AnyMapping("a mapping of the network builder's arguments"), required=True),
    "run": Key(AnyMapping("a mapping with the keys " + ", ".join(_RUN.keys)), required=True),
}, "a network file")


@dataclass(frozen=True)
class Action:
    """One item of a run schedule.

    ``op`` is ``"run"`` (``steps``), ``"apply"``, ``"inject"`` (spikes on
    ``neurons`` of ``population`` arriving at absolute step ``at``, counted
    like the chip's STEP_COUNT: the first step run is step 0) or ``"read"``
    (``what``: one of :data:`READS`).  ``step`` is the chip step count when
    the item executes; ``path`` and ``line`` say where the file gives it.
    """

    op: str
    step: int = 0
    steps: int = 0
    population: str | None = None
    neurons: tuple = ()
    at: int | None = None
    what: str | None = None
    path: tuple = ()
    line: int | None = None


@dataclass
class RunSpec:
    """The ``run:`` section.  ``schedule`` is always filled: default ``[run steps]``.

    ``phase`` is the automatic apply period (the cores' APPLY_PERIOD); a
    schedule's ``apply`` items are extra applies on top of it.
    """

    steps: int
    phase: int = 1000
    record_every: int = 1000
    model: str = "fixed"
    seeds: list = field(default_factory=lambda: [1])
    schedule: list = None

    def __post_init__(self):
        if self.schedule is None:
            self.schedule = [Action("run", 0, steps=self.steps)]


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
        """The network again, with ``seed`` in place of the file's (new weights and firing noise).

        In a custom network the seed replaces ``network.seed``: the firing
        noise and the initializers without a ``seed`` of their own change;
        weights from files, lists and seeded initializers do not.
        """
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


def _check_schedule(doc, run, populations):
    """The schedule's items as :class:`Action` s, checked against the populations and the steps."""
    path = ("run", "schedule")
    sizes = dict(populations)
    out, step = [], 0
    for i, (op, value) in enumerate(run["schedule"]):
        where = path + (i,)
        line = doc.lines.get(where)
        if op == "run":
            out.append(Action("run", step, steps=value, path=where, line=line))
            step += value
        elif op == "apply":
            out.append(Action("apply", step, path=where, line=line))
        elif op == "read":
            out.append(Action("read", step, what=value, path=where, line=line))
        else:
            pop, at = value["population"], value["at"]
            if pop not in sizes:
                close = difflib.get_close_matches(pop, sizes, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise doc.error(where + ("inject", "population"), f"no population {pop!r}{hint}",
                                "one of the populations " + ", ".join(sizes))
            for k, n in enumerate(value["neurons"]):
                if n >= sizes[pop]:
                    raise doc.error(where + ("inject", "neurons", k),
                                    f"got {n}; population {pop!r} has {sizes[pop]} neurons",
                                    f"an index from 0 to {sizes[pop] - 1}")
            if at < step:
                raise doc.error(where + ("inject", "at"), f"step {at} is in the past: the "
                                f"schedule has run {step} steps by then",
                                f"a step of at least {step}")
            out.append(Action("inject", step, population=pop, neurons=tuple(value["neurons"]),
                              at=at, path=where, line=line))
    if step != run["steps"]:
        raise doc.error(path, f"the run items add up to {step} steps; run.steps is "
                        f"{run['steps']}", "run items that add up to run.steps",
                        line=doc.key_lines.get(path))
    for a in out:
        if a.op == "inject" and a.at >= step:
            raise doc.error(a.path + ("inject", "at"), f"step {a.at} is never run: the schedule "
                            f"ends after step {step - 1}", f"a step from {a.step} to {step - 1}")
    return out


def _check(doc):
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), f"the file holds {_describe(data)}, not a mapping",
                        "a mapping with the keys name, kind, network and run", line=1)
    top = _TOP.check(doc, (), data)
    kind = KINDS[top["kind"]]
    args = dict(kind.defaults)
    args.update(kind.schema.check(doc, ("network",), data["network"]))
    if kind.check is not None:
        args = kind.check(doc, args)
    run = _RUN.check(doc, ("run",), data["run"])
    run.setdefault("seeds", [args["seed"]])
    if "schedule" in run:
        run["schedule"] = _check_schedule(doc, run, kind.populations(args))
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
