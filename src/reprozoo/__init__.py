"""reprozoo: reproducible re-runs of classic deep-learning tutorial experiments."""

import os
from pathlib import Path


def _workspace_root() -> Path:
    """Where a stage reads params.yaml and writes data/, models/, metrics/.

    DVC runs every stage command in its workspace and sets DVC_STAGE. For a queued
    experiment that workspace is a temp copy under .dvc/tmp/exps/, while this package may
    be imported from the original checkout (an editable install or PYTHONPATH), so the
    package's own location would read the original params and overwrite the original outputs.
    """
    if os.environ.get("DVC_STAGE"):
        return Path.cwd().resolve()
    return Path(__file__).resolve().parents[2]


# The repository root: stages resolve data/, models/ and metrics/ against it.
ROOT = _workspace_root()
