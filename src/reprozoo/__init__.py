"""reprozoo: reproducible re-runs of classic deep-learning tutorial experiments."""

import os
from pathlib import Path

# OpenMP threads that spin while waiting made training 10-80x slower whenever two processes
# shared the cores (a queue with -j 2, torchrun, a busy machine); sleeping costs nothing
# measurable alone (s003-cnn-mnist: 6.2 s passive vs 8.0 s active for 2 epochs). It must be set
# before torch loads OpenMP, so stages import reprozoo first; the Makefile sets it too.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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
