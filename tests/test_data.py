"""Data sources and splits: embedded parses, torchvision and path read real IDX files, splits are stratified."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reprozoo.data import fetch
from reprozoo.data.idx import read_idx
from reprozoo.data.mnist import from_embedded
from reprozoo.data.split import load_split, split_raw, stratified_indices, write_splits
from reprozoo.errors import ReprozooError

from conftest import write_mnist_idx


@pytest.fixture(scope="module")
def embedded():
    return from_embedded()


def test_embedded_source_parses(embedded):
    assert embedded.images.shape == (5000, 1, 28, 28) and embedded.images.dtype == torch.uint8
    assert torch.bincount(embedded.labels).tolist() == [500] * 10
    assert not embedded.is_test.any()
    assert embedded.images.float().mean().item() == pytest.approx(33.3, abs=1.5)  # MNIST's mean pixel ~ 0.13 * 255
    assert list(embedded.files) == ["mnist_5k.csv.gz"] and len(embedded.files["mnist_5k.csv.gz"]) == 64


def test_split_is_stratified_deterministic_and_disjoint(embedded):
    a = split_raw(embedded, 0.1, 0.2, seed=0)
    b = split_raw(embedded, 0.1, 0.2, seed=0)
    c = split_raw(embedded, 0.1, 0.2, seed=1)
    for name in ("train", "val", "test"):
        assert torch.equal(a[name]["images"], b[name]["images"])
    assert not torch.equal(a["test"]["images"], c["test"]["images"])
    assert torch.bincount(a["train"]["labels"]).tolist() == [350] * 10
    assert torch.bincount(a["val"]["labels"]).tolist() == [50] * 10
    assert torch.bincount(a["test"]["labels"]).tolist() == [100] * 10
    idx = stratified_indices(embedded.labels, {"val": 0.1, "test": 0.2}, 0)
    together = torch.cat(list(idx.values()))
    assert len(together) == 5000 and len(torch.unique(together)) == 5000


def test_torchvision_source_reads_its_raw_folder(tmp_path):
    # torchvision.datasets.MNIST finds MNIST/raw/<name> already there and does not download.
    arrays = write_mnist_idx(tmp_path / "MNIST" / "raw")
    raw = fetch("mnist", "torchvision", None, tmp_path)
    assert raw.source == "torchvision"
    assert raw.images.shape == (80, 1, 28, 28) and int(raw.is_test.sum()) == 20
    assert torch.equal(raw.images[:60, 0], torch.from_numpy(arrays[("train", "images")]))
    assert set(raw.files) == {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}


@pytest.mark.parametrize("gz", [False, True])
def test_path_source_reads_idx_files(tmp_path, gz):
    arrays = write_mnist_idx(tmp_path, gz=gz)
    raw = fetch("mnist", "path", str(tmp_path), tmp_path / "unused")
    assert torch.equal(raw.labels[60:], torch.from_numpy(arrays[("test", "labels")]).long())
    parts = split_raw(raw, 0.1, 0.2, seed=0)
    # The official test set stays the test set; val comes from train, stratified.
    assert len(parts["test"]["labels"]) == 20
    assert torch.bincount(parts["val"]["labels"]).tolist() == [1] * 10
    assert len(parts["train"]["labels"]) == 50


def test_path_source_names_what_is_missing(tmp_path):
    write_mnist_idx(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ReprozooError, match=r"missing t10k-labels-idx1-ubyte \(plain or .gz\); found: "):
        fetch("mnist", "path", str(tmp_path), tmp_path)
    with pytest.raises(ReprozooError, match="no such folder; expected a folder holding train-images-idx3-ubyte"):
        fetch("mnist", "path", str(tmp_path / "nope"), tmp_path)


def test_truncated_idx_file_is_named(tmp_path):
    write_mnist_idx(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ReprozooError, match="truncated IDX file"):
        read_idx(path)


def test_corrupt_split_file_is_caught_with_the_fix(tmp_path, embedded):
    write_splits(tmp_path, embedded, {"dataset": "mnist"}, 0.1, 0.2, 0)
    assert load_split(tmp_path, "mnist").test["labels"].shape == (1000,)
    path: Path = tmp_path / "test.pt"
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    with pytest.raises(ReprozooError, match=r"checksum does not match .*dvc repro --force split@mnist"):
        load_split(tmp_path, "mnist")


def test_data_hash_is_stable_across_rewrites(tmp_path, embedded):
    first = write_splits(tmp_path / "a", embedded, {"dataset": "mnist"}, 0.1, 0.2, 0)["data_sha256"]
    second = write_splits(tmp_path / "b", embedded, {"dataset": "mnist"}, 0.1, 0.2, 0)["data_sha256"]
    assert first == second


def test_split_files_are_byte_identical_across_rewrites(tmp_path, embedded):
    # DVC hashes file bytes: a rewrite that differs only in bytes would rerun every stage downstream.
    first = write_splits(tmp_path / "a", embedded, {"dataset": "mnist"}, 0.1, 0.2, 0)["files"]
    second = write_splits(tmp_path / "b", embedded, {"dataset": "mnist"}, 0.1, 0.2, 0)["files"]
    assert first == second
