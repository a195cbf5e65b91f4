"""Shared fixtures: the real params, and small IDX folders written in MNIST's exact format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reprozoo.data.idx import write_idx
from reprozoo.data.mnist import IDX_FILES
from reprozoo.params import load_params


@pytest.fixture(scope="session")
def params():
    return load_params()


def write_mnist_idx(folder: Path, n_train: int = 60, n_test: int = 20, gz: bool = False, seed: int = 0) -> dict:
    """Four IDX files of random digits, 28x28, every class present; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[(split, "images")] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        arrays[(split, "labels")] = (np.arange(n) % 10).astype(np.uint8)
    for key, stem in IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return arrays
