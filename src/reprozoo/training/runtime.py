"""Device choice, seeding and determinism, written out once."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from reprozoo.config.errors import ReprozooError


def configure(device: str, threads: int, deterministic: bool, blas_threads: int | None = None) -> torch.device:
    """Pick the device (auto: CUDA when present) and make CPU results repeatable.

    OpenBLAS (numpy, scipy, scikit-learn) splits its sums over `blas_threads` (default `threads`), not over
    however many CPUs the machine has: the t-SNE probe's bits moved with that count (0.926 on one thread,
    0.928 on two, the committed run's count).
    """
    torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits

    os.environ["OPENBLAS_NUM_THREADS"] = str(blas_threads or threads)  # for an OpenBLAS loaded later
    threadpool_limits(limits=blas_threads or threads, user_api="blas")  # and those loaded already
    if deterministic:
        # cuBLAS needs this workspace setting to be deterministic; harmless on the CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    # Deterministic mode also fills every new tensor with NaN, a guard against kernels that read
    # memory they never wrote. None of ours do (the determinism tests compare runs bit for bit),
    # and the fill cost 7-10 % of a CPU RNN training step here (it touches each fresh buffer once more).
    torch.utils.deterministic.fill_uninitialized_memory = False
    # Autotuning picks kernels by timing, which is not repeatable; allowed only when determinism is off.
    torch.backends.cudnn.benchmark = not deterministic
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ReprozooError("params.yaml: runtime.device: 'cuda' but no CUDA device is visible; use auto or cpu")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a CPU generator for batch order."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
