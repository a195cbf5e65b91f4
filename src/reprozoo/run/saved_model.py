"""A trained model: logged to its MLflow run and copied to models/<name> (an MLflow model folder), and read back.

Two ways back in, both here: `load_pyfunc`, as a user of the model loads it (numpy in, numpy out), so the
evaluate stage scores exactly what users get; `load_module`, the exported program as an nn.Module, for what
needs the torch object (a probe rebuilding the net to hook it, the names CLI). Nothing here imports MLflow
until a function that needs it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprozoo.config.errors import ReprozooError
from reprozoo.run.timing import charged


@charged("tracking")
def save(log: Any, model_dir: Path, model: Any, example: Any, metadata: dict) -> None:
    """Log `model` to the run of `log` and copy it to model_dir; register it as reprozoo-<experiment>, alias
    `candidate`. A spread run's models are neither kept nor registered."""
    if not log.track or log.spread_seed is not None:
        return
    from mlflow.tracking import MlflowClient

    from reprozoo.run.tracking import log_model_copy, with_retries

    name = f"reprozoo-{log.name}"
    info = log_model_copy(model, example, metadata, model_dir, registered_name=name)
    version = str(info.registered_model_version)
    with_retries(MlflowClient().set_registered_model_alias, name, "candidate", version)
    log.model = {"id": info.model_id, "name": name, "version": version}


@charged("tracking")
def load_pyfunc(model_dir: Path, stage: str) -> Any:
    """The MLflow model in model_dir; `stage` is the DVC stage that recreates it."""
    import mlflow.pyfunc

    try:
        return mlflow.pyfunc.load_model(str(model_dir))
    except Exception as err:  # a half-copied or edited model folder: retraining recreates it
        raise ReprozooError(f"{model_dir}: not a loadable MLflow model ({type(err).__name__}); recreate it "
                            f"with: dvc repro --force {stage}") from None


def load_module(model_dir: Path, stage: str) -> Any:
    """The torch.export program saved in model_dir, as an nn.Module."""
    import torch

    program = model_dir / "data" / "model.pt2"
    if not program.exists():
        raise ReprozooError(f"{model_dir}: no trained model; create it with: dvc repro {stage}")
    return torch.export.load(str(program)).module()
