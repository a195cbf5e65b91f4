"""Resumable training: the state at the last finished epoch, written when SIGINT or SIGTERM stops a run.

The harness keeps what a task hands ctx.log_epoch (for a classifier, `capture`: weights, optimizer
moments, the batch-order generator, the global RNGs) with the rows logged so far and the MLflow
run id, so a
resumed run on the CPU ends bit for bit where an uninterrupted one would. It lives in
.reprozoo/checkpoints/ at the project root: DVC deletes a stage's outputs before rerunning it,
and that folder is no output (and git-ignored). Its name carries a fingerprint of the params and
data it was trained with, so a checkpoint is only ever resumed by an identical run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn

from reprozoo import project_root
from reprozoo.data.files import atomic_write
from reprozoo.config.errors import Interrupted

# Runtime keys that do not change the numbers a run produces.
NEUTRAL_RUNTIME_KEYS = ("resume",)


def params_digest(kind: str, params, runtime, data_sha256: str, device: str, world_size: int) -> str:
    """Hex digest of everything that must match for a checkpoint to be resumed (params are pydantic models)."""
    runtime_fields = {k: v for k, v in runtime.model_dump().items() if k not in NEUTRAL_RUNTIME_KEYS}
    what = {"kind": kind, "experiment": params.model_dump(), "runtime": runtime_fields, "data_sha256": data_sha256,
            "device": device, "world_size": world_size}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def checkpoint_path(name: str, digest: str) -> Path:
    """.reprozoo/checkpoints/<experiment>-<fingerprint>.pt under the project root."""
    return project_root() / ".reprozoo" / "checkpoints" / f"{name}-{digest[:16]}.pt"


def capture(model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> dict:
    """A copy of the training state now (call it at an epoch boundary)."""
    np_state = np.random.get_state()
    return {
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python_rng": random.getstate(),
        "numpy_rng": [np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]],
    }


def restore(state: dict, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> None:
    """Put a captured state back into the model, optimizer, generator and global RNGs."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    random.setstate((state["python_rng"][0], tuple(state["python_rng"][1]), state["python_rng"][2]))
    name, keys, *rest = state["numpy_rng"]
    np.random.set_state((name, keys.numpy(), *rest))


def save(path: Path, state: dict, digest: str) -> None:
    """Write a checkpoint atomically (temp file + rename): a second signal never leaves half of one."""
    atomic_write(path, lambda p: torch.save({**state, "fingerprint": digest}, p))


def load(path: Path, digest: str) -> dict | None:
    """The checkpoint at `path` if it exists, is readable and matches `digest`; else None."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:  # a foreign or damaged file: start over rather than fail
        print(f"checkpoint {path}: unreadable ({type(err).__name__}); training from scratch")
        return None
    return state if state.get("fingerprint") == digest else None


def discard(path: Path) -> None:
    """Remove a checkpoint once its run has finished."""
    path.unlink(missing_ok=True)


@contextmanager
def interruptible() -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM raise Interrupted (SIGTERM would otherwise kill without cleanup)."""

    def handler(signum, frame):
        # Further signals are ignored while the checkpoint and the run's status are written.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
