"""params.yaml's `zoo` section: the seeds' non-image-classifier experiments, one typed dataclass per task.

Each task is a mapping experiment name -> its params, so a task can hold variants
(the three char-RNNs, the faithful and the fixed breast-cancer MLP) and dvc.yaml
can run one `foreach` stage per task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reprozoo.catalogue import CATALOGUE
from reprozoo.errors import ReprozooError
from reprozoo.params import OPTIMIZERS, _checked, _fraction, _positive, build

ACTIVATIONS = ("relu", "sigmoid", "tanh")
NAMES_SOURCES = ("embedded", "csv", "tutorial")  # the first is the offline default
POSITIVE = (_positive, "a number > 0")


@dataclass(frozen=True)
class LinearRegressionParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    optimizers: list = field(default_factory=lambda: list(OPTIMIZERS))  # one DVC stage and MLflow run each
    lr: float = _checked(0.01, check=POSITIVE)
    epochs: int = _checked(1000, check=POSITIVE)
    predict_at: float = 4.0
    seed: int = 0
    # The seed's hand-written gradient descent on w . [x, x^2, 1], one sample at a time.
    handwritten_lr: float = _checked(0.001, check=POSITIVE)
    handwritten_epochs: int = _checked(1000, check=POSITIVE)


@dataclass(frozen=True)
class LogisticRegressionParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    lr: float = _checked(0.01, check=POSITIVE)
    epochs: int = _checked(500, check=POSITIVE)
    seed: int = 0


@dataclass(frozen=True)
class BreastCancerParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    hidden: list = field(default_factory=lambda: [25, 20, 15, 10, 5])
    activations: list = field(default_factory=lambda: ["relu", "relu", "relu", "sigmoid", "sigmoid"])
    optimizer: str = _checked("sgd", choices=OPTIMIZERS)
    lr: float = _checked(0.05, check=POSITIVE)
    optimizer_args: dict = field(default_factory=dict)
    epochs: int = _checked(10000, check=POSITIVE)
    val_fraction: float = _checked(0.2, check=(_fraction, "a number in [0, 1)"))
    test_fraction: float = _checked(0.2, check=(_fraction, "a number in [0, 1)"))
    standardise: bool = True
    seed: int = 0


@dataclass(frozen=True)
class CharRnnParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    model: str = _checked(choices=("cell", "rnn", "embedding"))
    hidden_size: int = _checked(4, check=POSITIVE)
    num_layers: int = _checked(1, check=POSITIVE)
    embedding_dim: int = _checked(10, check=POSITIVE)  # model: embedding only
    optimizer: str = _checked("sgd", choices=OPTIMIZERS)
    lr: float = _checked(0.1, check=POSITIVE)
    epochs: int = _checked(15, check=POSITIVE)
    seed: int = 0


@dataclass(frozen=True)
class NamesGruParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    hidden_size: int = _checked(100, check=POSITIVE)
    num_layers: int = _checked(2, check=POSITIVE)
    bidirectional: bool = False
    batch_size: int = _checked(256, check=POSITIVE)
    optimizer: str = _checked("sgd", choices=OPTIMIZERS)
    lr: float = _checked(0.1, check=POSITIVE)
    epochs: int = _checked(200, check=POSITIVE)
    seed: int = 0


@dataclass(frozen=True)
class SinCosParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    hidden_size: int = _checked(32, check=POSITIVE)
    time_step: int = _checked(10, check=POSITIVE)  # samples per window of pi
    windows: int = _checked(100, check=POSITIVE)  # training windows, one optimizer step each
    test_windows: int = _checked(20, check=POSITIVE)  # the windows after them, never trained on
    lr: float = _checked(0.02, check=POSITIVE)
    seed: int = 0


@dataclass(frozen=True)
class SvdParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    image: str = _checked("china.jpg", choices=("china.jpg", "flower.jpg"))  # scikit-learn's sample images
    ranks: list = field(default_factory=lambda: [60, 120])


@dataclass(frozen=True)
class ActivationsParams:
    reproduces: str = _checked(choices=tuple(CATALOGUE))
    model_of: str = "s000-rnn-mnist"  # the experiment whose trained RNN is hooked
    batch_size: int = _checked(128, check=POSITIVE)


@dataclass(frozen=True)
class NamesDataParams:
    source: str = _checked("embedded", choices=NAMES_SOURCES)
    path: str | None = None  # csv: folder with names_train.csv and names_test.csv; tutorial: data/names/
    top_n: int = _checked(300, check=POSITIVE)  # embedded: surnames per country, by rank
    test_fraction: float = _checked(0.2, check=(_fraction, "a number in [0, 1)"))  # embedded, tutorial
    seed: int = 0


TASKS: dict[str, type] = {
    "linear_regression": LinearRegressionParams, "logistic_regression": LogisticRegressionParams,
    "breast_cancer": BreastCancerParams, "char_rnn": CharRnnParams, "names_gru": NamesGruParams,
    "sin_cos": SinCosParams, "svd": SvdParams, "rnn_activations": ActivationsParams,
}


@dataclass(frozen=True)
class Zoo:
    names_data: NamesDataParams = field(default_factory=NamesDataParams)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> experiment name -> params

    def experiments(self) -> dict[str, Any]:
        """Every zoo experiment by name, across tasks."""
        return {name: p for task in self.tasks.values() for name, p in task.items()}


def _check_lists(name: str, p: Any) -> None:
    where = f"zoo.{name}"
    if isinstance(p, LinearRegressionParams):
        bad = [o for o in p.optimizers if o not in OPTIMIZERS]
        if bad or not p.optimizers:
            raise ReprozooError(f"params.yaml: {where}.optimizers: {bad or p.optimizers!r} unknown or empty; "
                                f"allowed: {', '.join(OPTIMIZERS)}")
    if isinstance(p, BreastCancerParams):
        if len(p.activations) != len(p.hidden) or any(a not in ACTIVATIONS for a in p.activations):
            raise ReprozooError(f"params.yaml: {where}.activations: {p.activations!r}; allowed: one of "
                                f"{', '.join(ACTIVATIONS)} per hidden layer ({len(p.hidden)})")
        if not all(isinstance(h, int) and h > 0 for h in p.hidden):
            raise ReprozooError(f"params.yaml: {where}.hidden: {p.hidden!r}; allowed: positive integers")
    if isinstance(p, SvdParams) and (not p.ranks or not all(isinstance(k, int) and k > 0 for k in p.ranks)):
        raise ReprozooError(f"params.yaml: {where}.ranks: {p.ranks!r}; allowed: a list of positive integers")


def parse_zoo(raw: Any) -> Zoo:
    """Check the zoo section: the names dataset, then each task's experiments; names are unique across tasks."""
    if raw is None:
        return Zoo()
    if not isinstance(raw, dict):
        raise ReprozooError(f"params.yaml: zoo: expected a mapping, got {raw!r}")
    known = ("names_data", *TASKS)
    for key in raw:
        if key not in known:
            raise ReprozooError(f"params.yaml: zoo.{key}: unknown key; allowed: {', '.join(known)}")
    names_data = build(NamesDataParams, raw.get("names_data", {}), "zoo.names_data")
    if names_data.source != "embedded" and not names_data.path:
        raise ReprozooError(f"params.yaml: zoo.names_data.path: required when source is {names_data.source!r}")
    tasks: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    for task, cls in TASKS.items():
        entries = raw.get(task) or {}
        if not isinstance(entries, dict):
            raise ReprozooError(f"params.yaml: zoo.{task}: expected a mapping of experiment name -> params")
        tasks[task] = {}
        for name, e in entries.items():
            if name in seen:
                raise ReprozooError(f"params.yaml: zoo.{task}.{name}: name already used under zoo.{seen[name]}")
            seen[name] = task
            p = build(cls, e, f"zoo.{task}.{name}")
            _check_lists(f"{task}.{name}", p)
            tasks[task][name] = p
    return Zoo(names_data, tasks)
