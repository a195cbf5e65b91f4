"""The harness's side of a Context: one MLflow run per experiment, progress lines, the resumable state.

Only the main process (rank 0 under torchrun, or the only one) talks to MLflow; other ranks train
silently. Every MLflow call goes through tracking.with_retries (queued experiments share one SQLite
store). The train phase holds its run open; the evaluate phase logs into the finished run through
the client, never reopening it (a stop then would leave it RUNNING).
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from reprozoo.training import distributed
from reprozoo.ledger.owners import end_dead_runs, owner_tags
from reprozoo.ledger.progress import Progress
from reprozoo.ledger.timing import charged
from reprozoo.ledger.tracking import flatten, log_series, run_tags, use_experiment, with_retries


class RunLog:
    def __init__(self, name: str, params: Any, stage: str, epochs: int | None, track: bool = True,
                 spread_seed: int | None = None):
        self.name, self.p, self.stage = name, params, stage
        self.main = distributed.is_main()
        self.track = track and self.main
        self.spread_seed = spread_seed  # a spread run: logged as its own run, its model neither kept nor registered
        self.world_size = distributed.world()[1]
        self.progress = Progress(name, epochs or 0) if self.main and epochs else None
        self.run_id: str | None = None
        self.current: str | None = None  # the run reports go to: run_id, or a child run inside ctx.child
        self.experiment_id: str | None = None
        self.tags: dict[str, str] = {}
        self.model: dict | None = None  # the logged model: id, registered name and version

    # -- process --------------------------------------------------------------------------------
    def setup_device(self, device):
        """Join the torchrun process group when there is one; this process's device."""
        return distributed.setup(device)

    def teardown(self) -> None:
        if self.progress:
            self.progress.close()
        distributed.teardown()

    def say(self, line: str) -> None:
        if self.main:
            print(line, flush=True)

    # -- the run ----------------------------------------------------------------------------------
    @charged("tracking")
    def start(self, data: Any, resume_run_id: str | None, history: list[dict], fingerprint: str) -> None:
        """Reopen the stopped run being resumed if the store still has it, else start a new one.

        First, RUNNING runs of this stage and params left by a dead process are ended KILLED (owners.py).
        """
        if not self.track:
            return
        import mlflow
        from mlflow.entities import RunTag
        from mlflow.exceptions import MlflowException

        self.experiment_id = use_experiment(self.name)
        self.tags = {**run_tags(self.name, self.p.reproduces, data.record(), self.stage), **owner_tags(),
                     "reprozoo.fingerprint": fingerprint[:16]}
        if self.spread_seed is not None:
            self.tags["reprozoo.spread_seed"] = str(self.spread_seed)
        for run_id in with_retries(end_dead_runs, mlflow.MlflowClient(), self.experiment_id, self.stage,
                                   fingerprint[:16], resume_run_id):
            self.say(f"[{self.name}] MLflow run {run_id} was left RUNNING by a process that died: ended KILLED")
        if resume_run_id:
            try:
                with_retries(mlflow.get_run, resume_run_id)
                run = with_retries(mlflow.start_run, run_id=resume_run_id)
                self.run_id = self.current = run.info.run_id
                with_retries(mlflow.MlflowClient().log_batch, self.run_id,
                             tags=[RunTag(k, v) for k, v in {**owner_tags(), "resumed_after_epoch": str(len(history))}
                                   .items()])
                return
            except MlflowException:  # the store was reset since: log the epochs done again, into a new run
                pass
        # A queued `dvc exp run` is named after its DVC experiment, so the runs of a sweep tell apart.
        run_name = os.environ.get("DVC_EXP_NAME") or self.name
        if self.spread_seed is not None:
            run_name = f"{run_name} seed {self.spread_seed}"
        run = with_retries(mlflow.start_run, run_name=run_name, tags=self.tags)
        self.run_id = self.current = run.info.run_id
        self.params({"experiment": self.p.model_dump(), "data": data.record()})
        self.log_dataset(data, "training")
        for row in history:
            self._epoch_metrics(row)

    @charged("tracking")
    def log_dataset(self, data: Any, context: str) -> tuple[str, str]:
        """The data as a dataset input of the run (the UI's Datasets column); its (name, digest).

        A split is logged part by part (mnist/train in training, mnist/test in the test), each with the
        hash of its own tensors; other data as one dataset.
        """
        from mlflow.entities import Dataset, DatasetInput, InputTag
        from mlflow.tracking import MlflowClient

        name, digest = data.dataset, data.sha256
        split = data.parts.get("split")
        if split is not None:
            part = "train" if context == "training" else "test"
            name, digest = f"{data.dataset}/{part}", split.manifest["content_sha256"][part]
        dataset = Dataset(name, digest[:36], "reprozoo", json.dumps({"source": data.source, "note": data.note}))
        tag = InputTag("mlflow.data.context", context)
        with_retries(MlflowClient().log_inputs, self.run_id, datasets=[DatasetInput(dataset, [tag])])
        return name, digest[:36]

    @charged("tracking")
    def attach(self, trained: dict, data: Any) -> None:
        """Log into the train stage's finished run (the evaluate phase).

        When the store no longer has that run (mlflow.db deleted since, or the trained model restored from
        DVC's run-cache of another store), the evaluation gets a run of its own, tagged with the run it
        was trained in, rather than failing.
        """
        if not self.track:
            return
        import mlflow
        from mlflow.exceptions import MlflowException

        from reprozoo.ledger.tracking import use_store

        use_store()
        self.run_id, self.experiment_id = trained["mlflow_run_id"], trained["mlflow_experiment_id"]
        self.model = trained.get("mlflow_model")
        self.current = self.run_id
        try:
            with_retries(mlflow.get_run, self.run_id)
            return
        except MlflowException:
            pass
        self.say(f"[{self.name}] the training's MLflow run {self.run_id} is not in this store: "
                 "the evaluation is logged to a new run")
        self.experiment_id = use_experiment(self.name)
        tags = {**run_tags(self.name, self.p.reproduces, data.record(), self.stage), **owner_tags(),
                "reprozoo.trained_in_run": self.run_id}
        run = with_retries(mlflow.start_run, run_name=f"{self.name} (evaluation)", tags=tags)
        self.run_id = self.current = run.info.run_id
        self.model = None  # its logged model is in the other store: nothing to promote here
        self.params({"experiment": self.p.model_dump(), "data": data.record()})

    def ids(self) -> dict:
        return {"mlflow_run_id": self.run_id, "mlflow_experiment_id": self.experiment_id, "mlflow_model": self.model}

    @charged("tracking")
    def end(self, status: str) -> None:
        if self.main and self.run_id:
            import mlflow

            if mlflow.active_run():
                with_retries(mlflow.end_run, status)

    # -- what a task reports ----------------------------------------------------------------------
    @charged("tracking")
    def epoch(self, row: dict) -> None:
        """One epoch's figures: into the run and the progress line (the context keeps the checkpoint)."""
        if self.run_id:
            self._epoch_metrics(row)
        if self.progress:
            self.progress.epoch_done(row)

    def _epoch_metrics(self, row: dict) -> None:
        # The epoch's wall time stays in history.csv: as a metric it would crowd the UI's first charts.
        self.series_at({k: v for k, v in row.items() if k not in ("epoch", "seconds") and isinstance(v, (int, float))},
                       row["epoch"])

    @charged("tracking")
    def series(self, key: str, values: list[float], start: int) -> None:
        if self.current:
            log_series(self.current, key, values, start)

    @charged("tracking")
    def params(self, values: dict) -> None:
        if self.current:
            from mlflow.entities import Param
            from mlflow.tracking import MlflowClient

            params = [Param(k, str(v)) for k, v in flatten("", values).items()]
            with_retries(MlflowClient().log_batch, self.current, params=params)

    def metrics(self, values: dict[str, float]) -> None:
        if self.current:
            self.series_at({k: float(v) for k, v in values.items()})

    @charged("tracking")
    def series_at(self, values: dict[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in values.items()]
        with_retries(MlflowClient().log_batch, self.current, metrics=metrics)

    def batches(self, batches: Iterable) -> Iterable:
        return self.progress.batches(batches) if self.progress else batches

    @contextmanager
    def child(self, ctx: Any, name: str) -> Iterator[None]:
        if not self.run_id:
            yield
            return
        import mlflow

        tags = {**self.tags, "mlflow.parentRunId": self.run_id}
        run = with_retries(mlflow.start_run, run_name=name, nested=True, tags=tags)
        self.current = run.info.run_id
        try:
            self.params({"child": name})
            yield
        except BaseException:
            with_retries(mlflow.end_run, "FAILED")
            raise
        finally:
            self.current = self.run_id
        with_retries(mlflow.end_run, "FINISHED")

    @charged("tracking")
    def result(self, result: Any, files: list, data: Any) -> None:
        """An evaluation's numbers (against the model and the test data) and pictures into the run.

        A model that got this far is promoted: the registered version's alias `champion` moves to it.
        """
        if not self.run_id:
            return
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        dataset, digest = self.log_dataset(data, "test")
        model_id = self.model["id"] if self.model else None
        measures = {k: v for k, v in result.metrics.items() if k != "epochs" and not k.endswith("_samples")}
        for key, value in measures.items():  # counts (epochs, samples) stay in metrics/: nothing to chart
            with_retries(client.log_metric, self.run_id, key, float(value), dataset_name=dataset,
                         dataset_digest=digest, model_id=model_id)
        with_retries(client.set_tag, self.run_id, "evaluated", "true")
        if self.model:
            with_retries(client.set_registered_model_alias, self.model["name"], "champion", self.model["version"])
        for path in files:
            with_retries(client.log_artifact, self.run_id, str(path), artifact_path="evaluation")
