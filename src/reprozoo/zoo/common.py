"""What every zoo stage shares: its params, the run around it, its metrics file and figures."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Iterator

import torch

from reprozoo import ROOT
from reprozoo.catalogue import CATALOGUE
from reprozoo.data.files import atomic_write, sha256_tensors, write_json
from reprozoo.errors import ReprozooError
from reprozoo.params import Params, load_params
from reprozoo.runtime import seed_everything
from reprozoo.tracking import flatten, run_tags, use_experiment

os.environ.setdefault("MPLBACKEND", "Agg")  # stages draw figures headless


def zoo_params(task: str, name: str) -> tuple[Params, Any]:
    """The whole params and one zoo experiment's, or an error naming the known ones."""
    params = load_params()
    entries = params.zoo.tasks.get(task, {})
    if name not in entries:
        raise ReprozooError(f"experiment {name!r} is not under zoo.{task} in params.yaml; known: "
                            f"{', '.join(entries) or 'none'}")
    return params, entries[name]


def start(params: Params, seed: int) -> torch.device:
    """One CPU thread, seeded: these nets are tiny, so a GPU or a second thread only adds latency.

    (Measured: the breast-cancer MLP ran 8x slower on 2 threads than on 1 on a busy machine,
    the threads spinning on matrices of a few hundred numbers.) One thread also makes the
    results independent of runtime.threads.

    runtime.configure's use_deterministic_algorithms is skipped on purpose: it imports
    torch's compiler stack (~3 s a process, and the zoo runs ~20 processes) and guards
    only CUDA and scatter-style kernels, which these CPU stages do not use.
    """
    torch.set_num_threads(1)
    seed_everything(seed)
    return torch.device("cpu")


def data_record(dataset: str, source: str, tensors: dict[str, torch.Tensor], **extra: Any) -> dict:
    """The data an experiment used: where from and the checksum of exactly those tensors."""
    return {"dataset": dataset, "source": source, "data_sha256": sha256_tensors(tensors), **extra}


@contextlib.contextmanager
def mlflow_run(name: str, reproduces: str, data: dict, stage: str, p: Any, run_name: str | None = None,
               extra_params: dict | None = None) -> Iterator[Any]:
    """An MLflow run in the experiment's MLflow experiment, tagged with code, stage and data."""
    import mlflow

    use_experiment(name)
    with mlflow.start_run(run_name=run_name or name, tags=run_tags(name, reproduces, data, stage)) as run:
        mlflow.log_params(flatten("", {"experiment": dataclasses.asdict(p), **(extra_params or {})}))
        yield run


def save_figure(fig: Any, path: Path, log: bool = True) -> str:
    """Save a matplotlib figure as PNG atomically (and to the active MLflow run); returns its repo path."""
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None}))
    plt.close(fig)
    if log:
        import mlflow

        mlflow.log_artifact(str(path), artifact_path="plots")
    return str(path.relative_to(ROOT))


def write_metrics(name: str, p: Any, data: dict, results: dict, main_figure: str, run_id: str,
                  seconds: float, main_metric: str) -> dict:
    """metrics/<name>.json: the report's common fields, then the experiment's own results.

    `main_metric` names the key of `results` the report sets beside the seed's figure.
    """
    entry = CATALOGUE[p.reproduces]
    if main_metric not in results:
        raise KeyError(f"main_metric {main_metric!r} is not among the results {sorted(results)}")
    metrics = {
        "experiment": name,
        "reproduces": p.reproduces,
        "dataset": data["dataset"],
        "source": data["source"],
        "data_sha256": data["data_sha256"],
        # The seed's own data (its three points, scikit-learn's sets, its photo) unless built by us.
        "data": "embedded" if data["source"] == "embedded" else "full",
        **{k: v for k, v in data.items() if k not in ("dataset", "source", "data_sha256")},
        **results,
        "main_metric": main_metric,
        "main_figure": main_figure,
        "train_seconds": round(seconds, 2),
        "device": "cpu",
        "seed_reported": entry.reported,
        "seed_reported_text": entry.reported_text,
        "mlflow_run_id": run_id,
    }
    write_json(ROOT / "metrics" / f"{name}.json", metrics)
    return metrics


class Timer:
    """Wall-clock seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def log_series(key: str, values: list[float], start_step: int = 1) -> None:
    """A per-epoch curve into the active MLflow run in batches (one call per value is ~1000x slower)."""
    import mlflow
    from mlflow.entities import Metric

    run_id = mlflow.active_run().info.run_id
    client = mlflow.tracking.MlflowClient()
    now = int(time.time() * 1000)
    metrics = [Metric(key, float(v), now, start_step + i) for i, v in enumerate(values)]
    for i in range(0, len(metrics), 1000):  # MLflow's per-request limit
        client.log_batch(run_id, metrics=metrics[i:i + 1000])
