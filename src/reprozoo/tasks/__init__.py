"""Kinds of experiment. Each kind is a Task in tasks/<kind>.py, registered under the kind's name.

A task knows its seed's recipe and nothing of MLflow, DVC or files: it loads its data, trains,
and returns a Result (numbers, a few strings and tables, figures). It reports progress through
the Context the harness hands it (`ctx.log_epoch(row)`); reprozoo.harness.phases does the rest: seeding,
the MLflow run, checkpoints, and writing every output whole.

    class Params(Experiment):                # its params: experiments.sin_cos.<name> in params.yaml
        hidden_size: Count = 32

    @register
    class SinCos(Task):
        kind = "sin_cos"
        params_model = Params
        def load(self, ctx): ...             # -> Data: what it trains on, with its checksum
        def train(self, ctx, data): ...      # optional: fit, keep what evaluate needs
        def evaluate(self, ctx, data): ...   # -> Result

One name runs through it: the module tasks/<kind>.py, `kind`, the key experiments.<kind> of params.yaml
(checked by `params_model`), and the stage group `<kind with hyphens>@<name>` in dvc.yaml (an image
classifier has two: `train@<name>`, `evaluate@<name>`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, ContextManager, Iterable, Protocol

from reprozoo.data.record import Data  # noqa: F401  (part of the task API)
from reprozoo.config.errors import ReprozooError
from reprozoo.config.params import Experiment, Params

TASKS: dict[str, type[Task]] = {}  # kind -> Task class, filled as tasks/<kind>.py modules are imported


@dataclass
class Result:
    """An evaluation: numbers for metrics/<name>.json, the rest for results/<name>/run.json and plots/<name>/."""
    metrics: dict[str, float]  # numbers only: what `dvc metrics diff` compares
    main_metric: str  # the key (of metrics, else info) the report sets beside the seed's figure
    info: dict[str, Any] = field(default_factory=dict)  # strings, lists, per-class tables
    figures: dict[str, Any] = field(default_factory=dict)  # file stem -> matplotlib figure
    tables: dict[str, list[tuple]] = field(default_factory=dict)  # file stem -> CSV rows, header first
    tensors: dict[str, dict] = field(default_factory=dict)  # file stem -> tensors saved in results/<name>/


class Context(Protocol):
    """What a task may use of the harness (harness/context.py is the one the stages hand over): its params,
    device, resumed state, and ways to report. A task never reaches MLflow or a file of the run but by it."""

    name: str
    kind: str
    params: Any
    project: Any
    device: Any
    model_dir: Path
    resumed: Any
    history: list[dict]

    def log_epoch(self, row: dict, state: Callable[[], Any] | None = None) -> None: ...

    def log_series(self, key: str, values: list[float], start: int = 1) -> None: ...

    def log_params(self, values: dict) -> None: ...

    def batches(self, batches: Iterable) -> Iterable: ...

    def save_model(self, model: Any, example: Any, metadata: dict) -> None: ...

    def load_model(self) -> Any: ...

    def child(self, name: str) -> ContextManager[None]: ...


class Task:
    """One kind of experiment. Subclasses set `kind` and implement load and evaluate (and train)."""

    kind: ClassVar[str]
    params_model: ClassVar[type[Experiment]]  # what experiments.<kind>.<name> may say (config.params.Experiment)
    # True: `train` and `evaluate` are separate DVC stages and train keeps a model in ctx.model_dir.
    separate_evaluate: ClassVar[bool] = False
    # True: nets of a few hundred weights, trained on one CPU thread (a GPU or a second thread only adds
    # latency), without torch's deterministic-algorithms switch, which guards kernels they never use.
    tiny: ClassVar[bool] = False
    # Figures computed from the data alone, which no training moves (a class share, a chance level); with
    # trains = False, every figure (the SVD's). Under route (b) of the contract such a figure may differ by
    # float precision only, not by a spread (reprozoo.report.check).
    data_figures: ClassVar[tuple[str, ...]] = ()
    trains: ClassVar[bool] = True
    reads: ClassVar[tuple[str, ...]] = ()  # other kinds whose experiments it reads (a probe: its classifier's)

    def load(self, ctx: Context) -> Data:
        raise NotImplementedError

    def train(self, ctx: Context, data: Data) -> None:
        """Fit; by default nothing (a kind that only evaluates, such as SVD or a probe)."""

    def evaluate(self, ctx: Context, data: Data) -> Result:
        raise NotImplementedError


def register(cls: type[Task]) -> type[Task]:
    """Add a Task class to the registry under its kind."""
    TASKS[cls.kind] = cls
    return cls


def task_for(kind: str) -> Task:
    """The registered task of `kind`, imported on demand: a stage loads only its own kind's code."""
    try:
        importlib.import_module(f"reprozoo.tasks.{kind}")
    except ModuleNotFoundError as err:
        if err.name != f"reprozoo.tasks.{kind}":
            raise
        raise ReprozooError(f"kind {kind!r} has no task module reprozoo/tasks/{kind}.py") from None
    return TASKS[kind]()


def experiment(params: Params, name: str) -> tuple[Task, Any]:
    """Experiment `name`'s task and its params (typed when params.yaml was read)."""
    kind, p = params.experiment(name)
    return task_for(kind), p


def kinds() -> dict[str, type[Experiment]]:
    """Every kind's params model, each tasks/<kind>.py imported: for check-params and the schema."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return {kind: type(task_for(kind)).params_model for kind in names}
