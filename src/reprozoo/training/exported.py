"""A trained model's exported program (data/model.pt2 of an MLflow model folder), read back as an nn.Module:
for what needs the torch object (a probe rebuilding the net to hook it, the names CLI). No MLflow here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprozoo.config.errors import ReprozooError


def load_module(model_dir: Path, stage: str) -> Any:
    """The torch.export program saved in model_dir, as an nn.Module."""
    import torch

    program = model_dir / "data" / "model.pt2"
    if not program.exists():
        raise ReprozooError(f"{model_dir}: no trained model; create it with: dvc repro {stage}")
    return torch.export.load(str(program)).module()
