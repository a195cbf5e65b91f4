"""The harness's Context: what a task may use of a stage (reprozoo.tasks.Context says which)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from reprozoo.harness import saved_model
from reprozoo.training import checkpoint


class RunContext:
    """The Context (reprozoo.tasks) a stage hands its task: params, device, resumed state, ways to report.

    It keeps the state a resumed run restores (the checkpoint at each epoch's end): that decides a resumed
    run's bytes, so it is here, in the stages' deps, and not in the ledger, which only reports."""

    def __init__(self, name: str, kind: str, params: Any, project: Any, device: Any, root: Path, log: Any):
        self.name, self.kind, self.params, self.project, self.device = name, kind, params, project, device
        self.model_dir = root / "models" / name  # a trained model (DVC-cached), where a kind keeps one
        self.log = log  # the harness's run logger (MLflow, progress, checkpoints)
        self.resumed: Any = None  # the state given to log_epoch when the run was stopped, if it resumes
        self.history: list[dict] = []  # the rows given to log_epoch, resumed ones included
        self.snapshot: dict | None = None  # the state at the last finished epoch, for a checkpoint
        self.checkpoint: tuple | None = None  # (path, fingerprint) the harness resumes from
        self.clock: Callable[[], float] = lambda: 0.0  # training seconds so far (resumed ones included)

    def log_epoch(self, row: dict, state: Callable[[], Any] | None = None) -> None:
        """One epoch's figures (row["epoch"] is the step); `state()` is what a resumed run restores."""
        self.history.append(row)
        if state is not None:
            self.snapshot = {"task": state(), "history": list(self.history), "seconds": self.clock()}
            if self.log.main and self.checkpoint:  # at every epoch's end: a kill -9 loses at most one epoch
                path, digest = self.checkpoint
                checkpoint.save(path, {**self.snapshot, "run_id": self.log.run_id}, digest)
        self.log.epoch(row)

    def log_series(self, key: str, values: list[float], start: int = 1) -> None:
        """A whole curve at once (one value per step), for loops too fast to report epoch by epoch."""
        self.log.series(key, values, start)

    def log_params(self, values: dict) -> None:
        """Parameters known only once the model exists (e.g. how many weights train)."""
        self.log.params(values)

    def batches(self, batches: Iterable) -> Iterable:
        """An epoch's batches, behind a progress bar on a terminal."""
        return self.log.batches(batches)

    def save_model(self, model: Any, example: Any, metadata: dict) -> None:
        """Log `model` (an nn.Module taking `example`) as the run's MLflow model and copy it to model_dir."""
        saved_model.save(self.log, self.model_dir, model, example, metadata)

    def load_model(self) -> Any:
        """The MLflow model the train stage kept in model_dir (its `predict` takes numpy arrays)."""
        return saved_model.load_pyfunc(self.model_dir, f"train@{self.name}")

    @contextmanager
    def child(self, name: str) -> Iterator[None]:
        """A nested run (one fit of several, e.g. one optimizer of seed 002's comparison)."""
        with self.log.child(self, name):
            yield
