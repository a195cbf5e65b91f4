"""params.yaml's problems as lines: pydantic's errors (key path, value, what is allowed) and cross-references."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model a location in params.yaml falls in (to list the keys it allows)."""
    node: Any = root
    for key in loc:
        while typing.get_origin(node) in (typing.Union, types.UnionType):
            node = next(a for a in typing.get_args(node) if a is not type(None))
        if isinstance(node, type) and issubclass(node, BaseModel):
            if key not in node.model_fields:
                return node
            node = node.model_fields[key].annotation
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]
        else:
            return None
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def describe(err: ValidationError, root: type[BaseModel], at: str = "") -> list[str]:
    """One line per problem: the key path (under `at`, where root sits in params.yaml), the value, what is allowed."""
    lines = []
    for e in err.errors():
        loc = tuple(str(k) for k in e["loc"])
        where = ".".join(([at] if at else []) + list(loc))
        if e["type"] == "extra_forbidden":
            model = _model_at(root, loc[:-1])
            allowed = ", ".join(model.model_fields) if model else "none"
            lines.append(f"params.yaml: {where}: unknown key; allowed: {allowed}")
        elif e["type"] == "value_error":  # our own cross-checks: already "key: what is wrong"
            for line in str(e["ctx"]["error"]).splitlines():
                lines.append(f"params.yaml: {where + '.' if where else ''}{line}")
        elif e["type"] == "missing":
            lines.append(f"params.yaml: {where}: missing; it is required")
        else:
            msg = e["msg"].replace("Input should be ", "allowed: ", 1)
            lines.append(f"params.yaml: {where}: {e['input']!r}: {msg[0].lower() + msg[1:]}")
    return lines


def references(raw: Any) -> list[str]:
    """What one section of params.yaml says of another (names, datasets, backbones, probes, the spread).

    It reads the raw mapping, leniently, so these problems are reported beside any bad value.
    """
    def section(*keys: str) -> dict:
        node = raw
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    problems, seen = [], {}
    experiments, backbones, spread = section("experiments"), section("backbones"), section("spread")
    kinds = {kind: entries for kind, entries in experiments.items() if isinstance(entries, dict)}
    for kind, entries in kinds.items():
        for name in entries:
            if name in seen:
                problems.append(f"experiments.{kind}.{name}: name already used under experiments.{seen[name]}")
            seen[name] = kind
    ic = kinds.get("image_classifier", {})
    for name, e in ic.items():
        e = e if isinstance(e, dict) else {}
        if "dataset" in e and not section("datasets").get(e["dataset"]):
            problems.append(f"experiments.image_classifier.{name}.dataset: {e['dataset']!r} is not under datasets")
        args = e.get("model_args") if isinstance(e.get("model_args"), dict) else {}
        backbone = args.get("backbone") if e.get("model") == "frozen_transfer" else None
        if backbone and backbone not in ("vgg16-imagenet", "vgg16-random", *backbones):
            problems.append(f"experiments.image_classifier.{name}.model_args.backbone: {backbone!r}; allowed: "
                            f"vgg16-imagenet, vgg16-random, {', '.join(backbones) or '(no backbones)'}")
    for name, e in kinds.get("probe", {}).items():
        if isinstance(e, dict) and "of" in e and e["of"] not in ic:
            problems.append(f"experiments.probe.{name}.of: {e['of']!r} is not an image_classifier experiment; "
                            f"allowed: {', '.join(ic)}")
    seeds = spread.get("seeds") if isinstance(spread.get("seeds"), list) else []
    entries = spread.get("experiments") if isinstance(spread.get("experiments"), dict) else {}
    for name, entry in entries.items():
        entry = entry if isinstance(entry, dict) else {}
        e = kinds.get(entry.get("kind"), {}).get(name)
        runs = entry.get("runs") if isinstance(entry.get("runs"), int) else 0
        if e is None:
            problems.append(f"spread.experiments.{name}: not under experiments.{entry.get('kind')}; allowed: "
                            "an experiment of params.yaml with its kind")
        elif isinstance(e, dict) and e.get("seed", 0) in seeds[:runs - 1]:
            problems.append(f"spread.seeds: {e.get('seed', 0)} is {name}'s own seed; allowed: other seeds")
        if runs - 1 > len(seeds):
            problems.append(f"spread.experiments.{name}.runs: {runs}; allowed: at most {len(seeds) + 1} "
                            f"(its own seed and the {len(seeds)} of spread.seeds)")
    if kinds.get("names_gru") and not section("datasets").get("names"):
        problems.append("datasets.names: missing; the names_gru experiments read it")
    return problems
