"""Image classifiers end to end: built from params, saved as self-describing MLflow models."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reprozoo.models import create_model
from reprozoo.models.wrap import ImageClassifier, pixel_permutation
from reprozoo.params import ExperimentParams
from reprozoo.tracking import with_retries


def build_classifier(exp: ExperimentParams, manifest: dict) -> ImageClassifier:
    """The experiment's registered net for the split's image shape and classes, normalisation inside."""
    shape = tuple(manifest["image_shape"])
    net = create_model(exp.model, shape, len(manifest["classes"]), **exp.model_args)
    mean = exp.mean if exp.mean is not None else [0.0] * shape[0]  # None: the seed feeds ToTensor's [0, 1]
    std = exp.std if exp.std is not None else [1.0] * shape[0]
    order = pixel_permutation(shape, exp.seed) if exp.permute_pixels else None
    return ImageClassifier(net, mean, std, order)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters the optimizer may change: frozen ones (requires_grad False) stay out."""
    return [p for p in model.parameters() if p.requires_grad]


def model_metadata(name: str, exp: ExperimentParams, manifest: dict) -> dict:
    """What MLmodel's metadata records so the saved model explains itself."""
    return {
        "reprozoo_experiment": name,
        "reproduces": exp.reproduces,
        "architecture": exp.model,
        "model_args": json.dumps(exp.model_args, sort_keys=True),
        "input": "float32 (N, C, H, W) in [0, 1], as torchvision's ToTensor gives; normalisation is inside",
        "input_shape": list(manifest["image_shape"]),
        "classes": manifest["classes"],
        "output": "(N, classes) scores" + (" (log-probabilities)" if exp.loss == "nll" else " (logits)"),
        "dataset": manifest["dataset"],
        "data_source": manifest["source"],
        "data_sha256": manifest["data_sha256"],
        "data_note": manifest.get("source_note", ""),
        "pixel_permutation": "fixed, from the experiment seed, applied inside the model" if exp.permute_pixels
                             else "none",
        "params": json.dumps(dataclasses.asdict(exp), sort_keys=True),
    }


def log_and_save(model: ImageClassifier, example: torch.Tensor, metadata: dict, out: Path) -> str:
    """Log the model to the active MLflow run (signature, input example) and copy it to `out`.

    Exporting is the slow part (torch.export, ~10 s), so it happens once and the
    DVC output is a copy of what MLflow logged.
    """
    import mlflow
    import mlflow.pytorch
    from mlflow.models import infer_signature

    model = model.cpu().eval()
    x = example.cpu().float().div(255).numpy().astype(np.float32)  # (2, C, H, W) in [0, 1]
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    # Naming the requirements skips MLflow's inference of them, which starts a separate process each time.
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}",
                    f"numpy=={np.__version__}"]
    info = with_retries(mlflow.pytorch.log_model, model, name="model", input_example=x,
                        signature=infer_signature(x, y), metadata=metadata, pip_requirements=requirements)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # the directory appears whole or not at all
    return info.model_uri
