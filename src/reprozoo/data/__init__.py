"""Datasets: where each comes from (its sources) and how it is split."""

from __future__ import annotations

from pathlib import Path

from reprozoo.data.mnist import Raw, fetch_mnist

# dataset name -> the sources it can come from; the first is the offline default.
SOURCES: dict[str, tuple[str, ...]] = {
    "mnist": ("embedded", "torchvision", "path"),
}


def fetch(dataset: str, source: str, path: str | None, downloads: Path) -> Raw:
    """Raw images and labels of `dataset` from `source`."""
    fetchers = {"mnist": fetch_mnist}
    return fetchers[dataset](source, path, downloads)
