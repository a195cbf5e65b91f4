"""Datasets: where each comes from (its sources) and how it is split."""

from __future__ import annotations

from pathlib import Path

from reprozoo.data.cifar10 import fetch_cifar10
from reprozoo.data.folders import fetch_cats_dogs
from reprozoo.data.mnist import Raw, fetch_fashion_mnist, fetch_mnist

# dataset name -> the sources it can come from; the first is the offline default.
# fashion_mnist has no offline default: 'system' needs Debian's dataset-fashion-mnist package.
SOURCES: dict[str, tuple[str, ...]] = {
    "mnist": ("embedded", "torchvision", "path"),
    "fashion_mnist": ("system", "torchvision", "path"),
    "cifar10": ("standin", "torchvision", "path"),
    "cats_dogs": ("standin", "path"),
}


def fetch(dataset: str, source: str, path: str | None, downloads: Path) -> Raw:
    """Raw images and labels of `dataset` from `source`."""
    fetchers = {"mnist": fetch_mnist, "fashion_mnist": fetch_fashion_mnist, "cifar10": fetch_cifar10,
                "cats_dogs": fetch_cats_dogs}
    return fetchers[dataset](source, path, downloads)
