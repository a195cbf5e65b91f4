"""MLflow at the edges: where the store is, which experiment, which tags a run carries."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from reprozoo import ROOT

# Progress bars of artifact copies would flood DVC's and CI's logs.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def project_root() -> Path:
    """The DVC root when a stage runs under DVC (queued experiments run in copies), else the checkout."""
    return Path(os.environ.get("DVC_ROOT", ROOT))


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the SQLite store mlflow.db at the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def git_commit(root: Path) -> str:
    """HEAD's commit hash, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def use_experiment(name: str) -> str:
    """Point MLflow at the project's store and experiment `name` (created once, artifacts beside the store)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return mlflow.set_experiment(experiment_id=existing.experiment_id).experiment_id
    location = None
    if tracking_uri().startswith("sqlite:"):
        location = (project_root() / "mlartifacts").as_uri()
    experiment_id = mlflow.create_experiment(name, artifact_location=location)
    return mlflow.set_experiment(experiment_id=experiment_id).experiment_id


def run_tags(experiment: str, reproduces: str, manifest: dict, stage: str) -> dict[str, str]:
    """Tags that tie a run to its code, its DVC stage and its data."""
    commit = git_commit(project_root())
    return {
        "mlflow.source.git.commit": commit,
        "git_commit": commit,
        "dvc_stage": os.environ.get("DVC_STAGE", stage),
        "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
        "reprozoo_experiment": experiment,
        "reproduces": reproduces,
        "dataset": manifest["dataset"],
        "data_source": manifest["source"],
        "data_sha256": manifest["data_sha256"],
        # A stand-in is other real images in the dataset's shape; its figures are not the seed's.
        "data_standin": str(manifest["source"].startswith("standin")).lower(),
        "data_note": manifest.get("source_note", ""),
    }


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested params as MLflow's flat keys: {'a': {'b': 1}} -> {'a.b': 1}."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}
