"""params.yaml parsed into frozen, typed dataclasses that reject what they do not know.

Every check names the key path, the value and what is allowed, so that a typo in
params.yaml stops a stage with one line instead of a traceback mid-training.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reprozoo import ROOT
from reprozoo.catalogue import CATALOGUE
from reprozoo.errors import ReprozooError

DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("sgd", "adam", "adagrad", "adamax", "asgd", "lbfgs", "rmsprop", "rprop")


def _positive(v: float) -> bool:
    return v > 0


def _fraction(v: float) -> bool:
    return 0 <= v < 1


# Field metadata: "check" is (predicate, "what is allowed"); "choices" a tuple of names.
def _checked(default: Any = dataclasses.MISSING, *, check=None, choices=None) -> Any:
    meta = {}
    if check is not None:
        meta["check"] = check
    if choices is not None:
        meta["choices"] = choices
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Runtime:
    device: str = _checked("auto", choices=DEVICES)
    # Fixed CPU thread count: float reductions split differently across threads,
    # so results re-derive bit for bit only with the same count.
    threads: int = _checked(2, check=(_positive, "a positive integer"))
    deterministic: bool = True
    # CUDA only (ignored on the CPU): replay each full-batch step as a CUDA graph (measured 4-6x faster
    # for the MNIST models on an H100, same accuracy), and bf16 autocast (off: on an H100 it gained
    # nothing on the MNIST models and 7 % on VGG; see README, Speed).
    cuda_graphs: bool = True
    amp: bool = False
    # After SIGINT/SIGTERM a checkpoint is kept; the next run of the same params and data resumes it.
    resume: bool = True


@dataclass(frozen=True)
class DatasetParams:
    source: str
    path: str | None = None  # a local folder, for source: path
    val_fraction: float = _checked(0.1, check=(_fraction, "a number in [0, 1)"))
    # Only sources without an official test set (embedded) carve a test split.
    test_fraction: float = _checked(0.2, check=(_fraction, "a number in [0, 1)"))
    seed: int = 0


@dataclass(frozen=True)
class ExperimentParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    dataset: str
    model: str
    optimizer: str = _checked(choices=OPTIMIZERS)
    lr: float = _checked(check=(_positive, "a number > 0"))
    batch_size: int = _checked(check=(_positive, "an integer > 0"))
    epochs: int = _checked(check=(_positive, "an integer > 0"))
    seed: int = 0
    model_args: dict = field(default_factory=dict)
    # Extra optimizer keywords (momentum, weight_decay), passed as given.
    optimizer_args: dict = field(default_factory=dict)
    loss: str = _checked("cross_entropy", choices=("cross_entropy", "nll"))
    # Per-channel input normalisation the seed applies after ToTensor; null: none.
    mean: list | None = None
    std: list | None = None
    # Seed 004: one fixed pixel permutation, drawn from `seed`, applied to every image
    # (train and test alike); it is kept inside the saved model so evaluation uses the same one.
    permute_pixels: bool = False


@dataclass(frozen=True)
class Params:
    runtime: Runtime
    datasets: dict[str, DatasetParams]
    experiments: dict[str, ExperimentParams]
    zoo: Any = None  # reprozoo.zoo.params.Zoo: the non-classifier experiments (imported late: it builds on this module)


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:  # YAML writes 1 for 1.0; bool is an int in Python but not a number here
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    base = origin or hint
    return isinstance(value, base)


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            dict: "a mapping", type(None): "null"}.get(typing.get_origin(hint) or hint, str(hint))


def build(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, checking keys, types, ranges and choices."""
    if not isinstance(raw, dict):
        raise ReprozooError(f"params.yaml: {where}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ReprozooError(f"params.yaml: {where}.{unknown[0]}: unknown key; allowed: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        key = f"{where}.{name}"
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ReprozooError(f"params.yaml: {key}: missing; it is required")
            continue
        value = raw[name]
        if not _type_ok(value, hints[name]):
            raise ReprozooError(f"params.yaml: {key}: {value!r} is not {_type_name(hints[name])}")
        if "choices" in f.metadata and value not in f.metadata["choices"]:
            raise ReprozooError(f"params.yaml: {key}: {value!r} is unknown; allowed: "
                                f"{', '.join(f.metadata['choices'])}")
        if "check" in f.metadata:
            ok, allowed = f.metadata["check"]
            if not ok(value):
                raise ReprozooError(f"params.yaml: {key}: {value!r} is out of range; allowed: {allowed}")
        if hints[name] is float:
            value = float(value)
        values[name] = value
    return cls(**values)


def parse_params(raw: Any) -> Params:
    """Check a params mapping as a whole: sections, then cross references between them."""
    from reprozoo.data import SOURCES
    from reprozoo.models import MODELS
    from reprozoo.zoo.params import parse_zoo

    if not isinstance(raw, dict):
        raise ReprozooError("params.yaml: expected a mapping at the top level")
    known = ("runtime", "datasets", "experiments", "zoo")
    for key in raw:
        if key not in known:
            raise ReprozooError(f"params.yaml: {key}: unknown section; allowed: {', '.join(known)}")
    runtime = build(Runtime, raw.get("runtime", {}), "runtime")
    datasets = {name: build(DatasetParams, d, f"datasets.{name}") for name, d in (raw.get("datasets") or {}).items()}
    for name, d in datasets.items():
        if name not in SOURCES:
            raise ReprozooError(f"params.yaml: datasets.{name}: unknown dataset; allowed: {', '.join(SOURCES)}")
        if d.source not in SOURCES[name]:
            raise ReprozooError(f"params.yaml: datasets.{name}.source: {d.source!r} is unknown; "
                                f"allowed: {', '.join(SOURCES[name])}")
        if d.source == "path" and not d.path:
            raise ReprozooError(f"params.yaml: datasets.{name}.path: required when source is 'path'")
    experiments = {}
    for name, e in (raw.get("experiments") or {}).items():
        exp = build(ExperimentParams, e, f"experiments.{name}")
        if exp.dataset not in datasets:
            raise ReprozooError(f"params.yaml: experiments.{name}.dataset: {exp.dataset!r} is not under "
                                f"datasets; allowed: {', '.join(datasets)}")
        if exp.model not in MODELS:
            raise ReprozooError(f"params.yaml: experiments.{name}.model: {exp.model!r} is unknown; "
                                f"allowed: {', '.join(sorted(MODELS))}")
        experiments[name] = exp
    zoo = parse_zoo(raw.get("zoo"))
    for name in zoo.experiments():
        if name in experiments:
            raise ReprozooError(f"params.yaml: zoo: experiment {name!r} is also under experiments; names must be unique")
    return Params(runtime, datasets, experiments, zoo)


def load_params(path: Path | None = None) -> Params:
    """Read and check params.yaml (the repository's, unless a path is given)."""
    path = path or ROOT / "params.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ReprozooError(f"{path}: not found; the project's params.yaml is at the repository root") from None
    except yaml.YAMLError as err:
        raise ReprozooError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    return parse_params(raw)


def experiment(params: Params, name: str) -> ExperimentParams:
    """One experiment's params, or an error listing the known names."""
    if name not in params.experiments:
        raise ReprozooError(f"experiment {name!r} is not in params.yaml; known: {', '.join(params.experiments)}")
    return params.experiments[name]
