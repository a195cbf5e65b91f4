"""A trained model: logged to its MLflow run and copied to models/<name> (an MLflow model folder), and read back
with `load_pyfunc`, as a user of the model loads it (numpy in, numpy out), so the evaluate stage scores exactly
what users get (training/exported.py reads the same folder as an nn.Module). The folder's bytes come from here:
it stays in the deps of the stages that keep a model. Nothing here imports MLflow until a function needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprozoo.config.errors import ReprozooError
from reprozoo.harness.outputs import replace_folder
from reprozoo.ledger.timing import charged
from reprozoo.ledger.tracking import with_retries


@charged("tracking")
def save(log: Any, model_dir: Path, model: Any, example: Any, metadata: dict) -> None:
    """Log `model` to the run of `log` and copy it to model_dir; register it as reprozoo-<experiment>, alias
    `candidate`. A spread run's models are neither kept nor registered."""
    if not log.track or log.spread_seed is not None:
        return
    from mlflow.tracking import MlflowClient

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


def log_model_copy(model: Any, example: Any, metadata: dict, out: Path, registered_name: str | None = None) -> Any:
    """Log an nn.Module to the active run (signature, input example) and copy it to `out`.

    Exporting is the slow part (torch.export), so it happens once and the DVC output is a copy of
    what MLflow logged; `out` appears whole or not at all.
    """
    import mlflow
    import mlflow.pytorch
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    model = model.cpu().eval()
    x = example.cpu().numpy()
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    # Naming the requirements skips MLflow's inference of them, which starts a separate process.
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}",
                    f"numpy=={np.__version__}"]
    info = with_retries(mlflow.pytorch.log_model, model, name="model", input_example=x,
                        signature=infer_signature(x, y), metadata=metadata, pip_requirements=requirements,
                        registered_model_name=registered_name)
    replace_folder(out, lambda tmp: mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=str(tmp)))
    return info
