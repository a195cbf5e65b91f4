"""CIFAR-10 from its python-pickle batches: torchvision's download or a local folder; offline, a stand-in."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from reprozoo.data.files import sha256_file
from reprozoo.data.split import Raw
from reprozoo.data.standin import cifar10_standin
from reprozoo.config.errors import ReprozooError

BATCH_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickle batch: uint8 images (N, 3, 32, 32) and int64 labels.

    The batches are Python pickles (the official format); only load files you trust.
    """
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data, labels = batch[b"data"], batch[b"labels"]
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError) as err:
        raise ReprozooError(f"{path}: not a CIFAR-10 pickle batch ({type(err).__name__}: {err})") from None
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ReprozooError(f"{path}: expected data of shape (N, 3072) matching {len(labels)} labels, "
                            f"got {data.shape}")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)  # rows are R, G, B planes


def from_batches(folder: Path, source: str) -> Raw:
    """Read data_batch_1..5, test_batch and batches.meta from `folder` (or its cifar-10-batches-py/)."""
    if (folder / BATCH_FOLDER).is_dir():
        folder = folder / BATCH_FOLDER
    names = [*TRAIN_BATCHES, TEST_BATCH, "batches.meta"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ReprozooError(f"{folder}: missing {', '.join(missing)}; expected CIFAR-10's python batches "
                            f"({', '.join(names)}), as in cifar-10-python.tar.gz")
    parts = [read_batch(folder / n) for n in (*TRAIN_BATCHES, TEST_BATCH)]
    with open(folder / "batches.meta", "rb") as f:
        classes = [c.decode() for c in pickle.load(f, encoding="bytes")[b"label_names"]]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[-len(parts[-1][1]):] = True
    return Raw(images, labels, is_test, classes, source, {n: sha256_file(folder / n) for n in names}, str(folder))


def fetch_cifar10(source: str, path: str | None, downloads: Path) -> Raw:
    """CIFAR-10 from the named source; 'standin' is MNIST digits, not CIFAR-10 (see data/standin.py)."""
    if source == "standin":
        return cifar10_standin()
    if source == "torchvision":
        import torchvision

        try:  # the real loader: downloads, checks the md5, extracts cifar-10-batches-py/
            torchvision.datasets.CIFAR10(root=str(downloads), train=True, download=True)
        except Exception as err:  # URLError, HTTPError, checksum failures: all mean "could not get the files"
            raise ReprozooError(f"torchvision could not download CIFAR-10 into {downloads}: {type(err).__name__}: "
                                f"{err}. Set datasets.cifar10.source to 'path' with a local copy") from None
        return from_batches(downloads / BATCH_FOLDER, "torchvision")
    if source == "path":
        return from_batches(Path(path).expanduser(), "path")
    raise ReprozooError(f"cifar10: unknown source {source!r}; allowed: standin, torchvision, path")
