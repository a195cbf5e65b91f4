"""Where each dataset comes from (its `source` in params.yaml), and how it is split.

download(name) writes data/raw/<name>/ from the dataset's source; split(name) turns that into
data/splits/<name>/{train,val,test}.pt and a manifest with their checksums, which every
experiment reads (reprozoo.data.split.load_split) and records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprozoo.data.files import load_tensors, read_json, save_tensors, write_json

IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cats_dogs")


def fetch(dataset: str, source: str, path: str | None, downloads: Path):
    """Raw images and labels of an image dataset from `source`."""
    from reprozoo.data.cifar10 import fetch_cifar10
    from reprozoo.data.folders import fetch_cats_dogs
    from reprozoo.data.mnist import fetch_fashion_mnist, fetch_mnist

    fetchers = {"mnist": fetch_mnist, "fashion_mnist": fetch_fashion_mnist, "cifar10": fetch_cifar10,
                "cats_dogs": fetch_cats_dogs}
    return fetchers[dataset](source, path, downloads)


def download(name: str, d: Any, out: Path, downloads: Path) -> str:
    """Write data/raw/<name>/ from the dataset's source; returns a one-line summary."""
    if name == "names":
        from reprozoo.data.names import download_names

        return download_names(d, out)
    raw = fetch(name, d.source, d.path, downloads)
    save_tensors(out / "raw.pt", {"images": raw.images, "labels": raw.labels, "is_test": raw.is_test})
    write_json(out / "manifest.json", {"dataset": name, "source": raw.source, "classes": raw.classes,
                                       "files": raw.files, "note": raw.note, "count": len(raw.labels)})
    return f"{len(raw.labels)} images from {raw.source} ({raw.note})"


def split(name: str, d: Any, raw_folder: Path, out: Path) -> dict:
    """Write data/splits/<name>/ from data/raw/<name>/; returns the manifest."""
    if name == "names":
        from reprozoo.data.names import split_names

        return split_names(raw_folder, out)
    from reprozoo.data.split import Raw, write_splits

    fix = f"dvc repro --force download@{name}"
    tensors = load_tensors(raw_folder / "raw.pt", fix)
    info = read_json(raw_folder / "manifest.json", fix)
    raw = Raw(tensors["images"], tensors["labels"], tensors["is_test"], info["classes"], info["source"],
              info["files"], info["note"])
    return write_splits(out, raw, info, d.val_fraction, d.test_fraction, d.seed)
