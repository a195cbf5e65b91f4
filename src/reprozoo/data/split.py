"""Deterministic, stratified train/val/test splits, saved as tensors with a manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from reprozoo.data.files import load_tensors, read_json, save_tensors, sha256_file, sha256_tensors, write_json
from reprozoo.config.errors import ReprozooError

SPLITS = ("train", "val", "test")


@dataclass
class Raw:
    """A dataset as its source gives it, before splitting: one bundle whatever the source."""

    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64
    is_test: torch.Tensor  # (N,) bool: the source's official test set, empty mask if it has none
    classes: list[str]
    source: str
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    note: str = ""


def stratified_indices(labels: torch.Tensor, fractions: dict[str, float], seed: int) -> dict[str, torch.Tensor]:
    """Split indices class by class: each named part takes round(fraction * class size), the rest is 'train'.

    The same labels and seed always give the same indices (a seeded CPU generator).
    """
    gen = torch.Generator().manual_seed(seed)
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in (*fractions, "train")}
    for cls in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == cls).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        start = 0
        for name, frac in fractions.items():
            n = round(frac * len(idx))
            parts[name].append(idx[start:start + n])
            start += n
        parts["train"].append(idx[start:])
    # Sorted so the stored order does not depend on class order; training shuffles anyway.
    return {name: torch.sort(torch.cat(chunks)).values for name, chunks in parts.items()}


def split_raw(raw: Raw, val_fraction: float, test_fraction: float, seed: int) -> dict[str, dict[str, torch.Tensor]]:
    """Split a raw bundle: the official test set stays the test set; otherwise carve one, stratified."""
    if raw.is_test.any():
        pool = torch.nonzero(~raw.is_test).flatten()
        parts = stratified_indices(raw.labels[pool], {"val": val_fraction}, seed)
        parts = {name: pool[idx] for name, idx in parts.items()}
        parts["test"] = torch.nonzero(raw.is_test).flatten()
    else:
        parts = stratified_indices(raw.labels, {"val": val_fraction, "test": test_fraction}, seed)
    return {name: {"images": raw.images[parts[name]].contiguous(), "labels": raw.labels[parts[name]].contiguous()}
            for name in SPLITS}


def class_counts(labels: torch.Tensor, n_classes: int) -> list[int]:
    """How many of each class, in class order."""
    return torch.bincount(labels, minlength=n_classes).tolist()


def save_splits(out: Path, splits: dict[str, dict[str, torch.Tensor]], manifest: dict) -> dict:
    """Save each split's tensors as <split>.pt and a manifest with their checksums; return the manifest."""
    files, contents = {}, {}
    for name, tensors in splits.items():
        save_tensors(out / f"{name}.pt", tensors)
        files[f"{name}.pt"] = sha256_file(out / f"{name}.pt")  # catches a corrupt file before training
        contents[name] = sha256_tensors(tensors)  # of the tensors, not the file: the same for any format
    # One hash for the whole split, stable across re-runs: what metrics and MLflow record.
    data_sha256 = hashlib.sha256(json.dumps(contents, sort_keys=True).encode()).hexdigest()
    manifest = {**manifest, "files": files, "content_sha256": contents, "data_sha256": data_sha256}
    write_json(out / "manifest.json", manifest)
    return manifest


def write_splits(out: Path, raw: Raw, raw_manifest: dict, val_fraction: float, test_fraction: float,
                 seed: int) -> dict:
    """Split and save `train.pt`, `val.pt`, `test.pt` and `manifest.json` under `out`; return the manifest."""
    splits = split_raw(raw, val_fraction, test_fraction, seed)
    return save_splits(out, splits, {
        "dataset": raw_manifest["dataset"],
        "source": raw.source,
        "source_files": raw.files,
        "source_note": raw.note,
        "classes": raw.classes,
        "image_shape": list(raw.images.shape[1:]),
        "seed": seed,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction if not raw.is_test.any() else None,
        "counts": {name: class_counts(s["labels"], len(raw.classes)) for name, s in splits.items()},
    })


@dataclass
class Split:
    """A dataset's three splits as tensors, with its manifest."""

    train: dict[str, torch.Tensor]
    val: dict[str, torch.Tensor]
    test: dict[str, torch.Tensor]
    manifest: dict


def read_manifest(folder: Path, dataset: str) -> dict:
    """A split folder's manifest, or a clear error with the command that makes it."""
    return read_json(folder / "manifest.json", f"dvc repro --force split@{dataset}")


def load_split(folder: Path, dataset: str, names: tuple[str, ...] = SPLITS) -> Split:
    """Load split tensors after checking each file against the manifest's checksum."""
    manifest = read_manifest(folder, dataset)
    fix = f"dvc repro --force split@{dataset}"
    loaded = {}
    for name in names:
        path = folder / f"{name}.pt"
        if not path.exists():
            raise ReprozooError(f"{path}: missing; recreate it with: {fix}")
        if sha256_file(path) != manifest.get("files", {}).get(f"{name}.pt"):
            raise ReprozooError(f"{path}: checksum does not match {folder / 'manifest.json'} (corrupt or "
                                f"edited); recreate it with: {fix}")
        loaded[name] = load_tensors(path, fix)
    empty: dict[str, torch.Tensor] = {}
    return Split(loaded.get("train", empty), loaded.get("val", empty), loaded.get("test", empty), manifest)
