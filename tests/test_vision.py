"""Seed 002/004 vision pieces: frozen transfer, pixel permutation, CIFAR-10 batches, image folders, stand-ins."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reprozoo.data import mnist as mnist_module
from reprozoo.data.mnist import FASHION_CLASSES
from reprozoo.data.sources import fetch
from reprozoo.data.split import Raw, split_raw
from reprozoo.data.standin import cats_dogs_standin, cifar10_standin
from reprozoo.config.errors import ReprozooError
from reprozoo.models import create_model
from reprozoo.models.transfer import replace_head
from reprozoo.models.wrap import ImageClassifier, pixel_permutation
from reprozoo.training.optim import make_optimizer
from reprozoo.report.report import permutation_summary, render_permutation

from conftest import write_mnist_idx


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


# --- transfer: the seed's VGG16 surgery on a randomly initialised VGG16 (no ImageNet download) ---

@pytest.fixture(scope="module")
def vgg16_transfer():
    torch.manual_seed(0)
    return create_model("frozen_transfer", (3, 32, 32), 2, backbone="vgg16-random")


def test_vgg16_transfer_trains_exactly_one_layer(vgg16_transfer):
    trainable = {name for name, p in vgg16_transfer.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.6.0.weight", "classifier.6.0.bias"}
    head = vgg16_transfer.classifier[6]
    assert isinstance(head[0], torch.nn.Linear) and (head[0].in_features, head[0].out_features) == (4096, 2)
    assert isinstance(head[1], torch.nn.LogSoftmax)
    assert sum(p.numel() for p in trainable_parameters(vgg16_transfer)) == 4096 * 2 + 2
    assert sum(p.numel() for p in vgg16_transfer.parameters()) > 100_000_000  # the whole VGG16 is still there


def test_one_step_changes_only_the_new_head(vgg16_transfer):
    model = vgg16_transfer.eval()  # eval: dropout off, so the comparison is exact
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = make_optimizer("adam", trainable_parameters(model), 1e-3, {})
    loss = torch.nn.functional.nll_loss(model(torch.rand(4, 3, 32, 32)), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    optimizer.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"classifier.6.0.weight", "classifier.6.0.bias"}


def test_replace_head_names_a_wrong_path():
    with pytest.raises(ReprozooError, match="replace_head: features.0 is Conv2d in Sequential; expected a Linear"):
        replace_head(create_model("vgg_bn", (3, 32, 32), 10, cfg=[8, "M"]), "features.0", 2)


def test_unknown_backbone_names_the_built_in_choices(tmp_path, monkeypatch):
    """A typo ('resnet') must not read as a stage to run: the error lists the names that need no file."""
    from reprozoo.models import transfer

    monkeypatch.setattr(transfer, "BACKBONE_DIR", tmp_path)
    with pytest.raises(ReprozooError) as err:
        create_model("frozen_transfer", (3, 32, 32), 2, backbone="resnet")
    message = str(err.value)
    assert "'resnet'" in message and "vgg16-imagenet" in message and "vgg16-random" in message
    assert "\n" not in message


def test_vgg_bn_classifier_width_is_fixed():
    # The seed's Linear(2048, 10) cannot follow five poolings of 32x32 (512 features).
    model = create_model("vgg_bn", (3, 32, 32), 10)
    assert model.head[-1].in_features == 512


# --- seed 004's fixed pixel permutation, kept inside the saved model ---

def test_permutation_is_fixed_by_the_seed_and_applied_inside_the_model():
    order = pixel_permutation((1, 28, 28), seed=0)
    assert torch.equal(order, pixel_permutation((1, 28, 28), seed=0))
    assert not torch.equal(order, pixel_permutation((1, 28, 28), seed=1))
    assert torch.equal(torch.sort(order).values, torch.arange(784))
    net = create_model("small_cnn", (1, 28, 28), 10)
    model = ImageClassifier(net, [0.1307], [0.3081], order).eval()
    x = torch.rand(2, 1, 28, 28)
    shuffled = ((x - 0.1307) / 0.3081).view(2, 784)[:, order].view(2, 1, 28, 28)
    assert torch.allclose(model(x), net(shuffled))


@pytest.fixture
def mlflow_store(tmp_path):
    """A tmp SQLite store and artifact folder, the global tracking URI put back afterwards."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = mlflow.create_experiment("vision-test", artifact_location=(tmp_path / "artifacts").as_uri())
    yield experiment
    mlflow.set_tracking_uri(previous)


def test_permuted_model_round_trips_through_mlflow_pyfunc(tmp_path, mlflow_store):
    import mlflow
    import mlflow.pyfunc

    from reprozoo.harness.saved_model import log_model_copy

    torch.manual_seed(0)
    model = ImageClassifier(create_model("small_cnn", (1, 28, 28), 10), [0.1307], [0.3081],
                            pixel_permutation((1, 28, 28), 0)).eval()
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    with mlflow.start_run(experiment_id=mlflow_store):  # torch.export traces the permutation
        info = log_model_copy(model, torch.from_numpy(x[:2]), {"pixel_permutation": "seed 0"}, tmp_path / "m")
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "m"))  # the DVC output: the copy, not the run's artifact
    assert loaded.metadata.metadata["pixel_permutation"] == "seed 0" and info.model_uri.startswith("models:/")
    assert not (tmp_path / ".m.tmp").exists()
    assert np.allclose(loaded.predict(x), model(torch.from_numpy(x)).detach().numpy(), atol=1e-6)


def test_report_shows_the_cnn_advantage_and_its_loss_under_permutation():
    rows = [{"id": "s004-fc-vs-cnn-permuted", "model": model, "permute_pixels": perm, "ours": acc}
            for model, perm, acc in [("mlp", False, 0.85), ("small_cnn", False, 0.95), ("mlp", True, 0.84),
                                     ("small_cnn", True, 0.80)]]
    others = [{"id": "s004-vgg-bn-cifar10", "model": "vgg_bn", "permute_pixels": False, "ours": 0.1}]
    summary = permutation_summary(others + rows)
    assert summary["cnn_advantage_normal"] == pytest.approx(0.10)
    assert summary["cnn_advantage_permuted"] == pytest.approx(-0.04)
    assert summary["cnn_loss_under_permutation"] == pytest.approx(0.15)
    assert "| CNN minus FC | +0.1000 | -0.0400 | |" in "\n".join(render_permutation(summary))
    assert summary["fc_loss_under_permutation"] == pytest.approx(0.01)
    assert permutation_summary(others + rows[:3]) is None  # one of the four runs missing


# --- CIFAR-10 in its real file format: python pickle batches ---

def write_cifar_batches(folder: Path, per_batch: int = 10) -> dict[str, np.ndarray]:
    """data_batch_1..5, test_batch and batches.meta as cifar-10-python.tar.gz holds them."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [i % 10 for i in range(per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [f"{i}.png".encode() for i in range(per_batch)]}, f)
        written[name] = data
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in names], b"num_cases_per_batch": per_batch}, f)
    return written


def test_cifar10_path_reads_pickle_batches(tmp_path):
    written = write_cifar_batches(tmp_path / "cifar-10-batches-py")
    raw = fetch("cifar10", "path", str(tmp_path), tmp_path / "unused")  # the parent folder works too
    assert isinstance(raw, Raw) and raw.images.shape == (60, 3, 32, 32) and raw.images.dtype == torch.uint8
    assert int(raw.is_test.sum()) == 10 and raw.is_test[-10:].all()
    assert raw.classes[3] == "cat" and raw.source == "path"
    # Each row is 1024 red, then 1024 green, then 1024 blue values, row-major.
    first = written["data_batch_1"][0]
    assert torch.equal(raw.images[0, 1], torch.from_numpy(first[1024:2048].reshape(32, 32)))
    assert len(split_raw(raw, 0.1, 0.2, 0)["test"]["labels"]) == 10


def test_cifar10_path_names_missing_and_foreign_files(tmp_path):
    write_cifar_batches(tmp_path)
    (tmp_path / "test_batch").unlink()
    with pytest.raises(ReprozooError, match="missing test_batch; expected CIFAR-10's python batches"):
        fetch("cifar10", "path", str(tmp_path), tmp_path)
    (tmp_path / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ReprozooError, match="test_batch: not a CIFAR-10 pickle batch"):
        fetch("cifar10", "path", str(tmp_path), tmp_path)


# --- cats vs dogs in its real file format: an ImageFolder tree of JPEGs ---

def write_image_folder(root: Path) -> None:
    """train/ and val/, classes cat and dog, JPEGs larger and smaller than the 224 crop."""
    for split, n in (("train", 3), ("val", 2)):
        for cls, colour in (("cat", (200, 30, 30)), ("dog", (30, 30, 200))):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                size = (260, 300) if i % 2 == 0 else (100, 120)
                Image.new("RGB", size, colour).save(root / split / cls / f"{cls}_{i}.jpg", quality=95)


def test_cats_dogs_path_reads_an_image_folder(tmp_path):
    write_image_folder(tmp_path)
    raw = fetch("cats_dogs", "path", str(tmp_path), tmp_path / "unused")
    assert isinstance(raw, Raw) and raw.images.shape == (10, 3, 224, 224) and raw.images.dtype == torch.uint8
    assert raw.classes == ["cat", "dog"] and raw.labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 1, 1]
    assert int(raw.is_test.sum()) == 4 and set(raw.files) == {"train/", "val/"}
    big_cat, small_cat = raw.images[0], raw.images[1]
    assert abs(int(big_cat[0, 112, 112]) - 200) <= 3 and int(big_cat[2, 112, 112]) < 40  # red stays red
    assert small_cat[:, 0, 0].sum() == 0  # CenterCrop pads a smaller photo with black, as the seed's did


def test_cats_dogs_path_checks_classes_and_folders(tmp_path):
    write_image_folder(tmp_path)
    (tmp_path / "val" / "dog").rename(tmp_path / "val" / "wolf")
    with pytest.raises(ReprozooError, match=r"train/ has classes \['cat', 'dog'\] but val/ has \['cat', 'wolf'\]"):
        fetch("cats_dogs", "path", str(tmp_path), tmp_path)
    with pytest.raises(ReprozooError, match="not an image folder"):
        fetch("cats_dogs", "path", str(tmp_path / "nope"), tmp_path)


# --- Fashion-MNIST: Debian's package folder (IDX .gz), as MNIST ---

def test_fashion_mnist_system_reads_debian_folder(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path, gz=True)
    monkeypatch.setattr(mnist_module, "FASHION_SYSTEM_FOLDER", tmp_path)
    raw = fetch("fashion_mnist", "system", None, tmp_path / "unused")
    assert raw.source == "system" and raw.classes == FASHION_CLASSES and raw.images.shape == (80, 1, 28, 28)
    monkeypatch.setattr(mnist_module, "FASHION_SYSTEM_FOLDER", tmp_path / "absent")
    with pytest.raises(ReprozooError, match="apt-get install dataset-fashion-mnist"):
        fetch("fashion_mnist", "system", None, tmp_path)


# --- the offline stand-ins say what they are ---

def test_stand_ins_are_real_digits_and_named_as_stand_ins():
    cifar = cifar10_standin()
    assert cifar.images.shape == (5000, 3, 32, 32) and cifar.source.startswith("standin")
    assert "STAND-IN, not CIFAR-10" in cifar.note
    assert torch.equal(cifar.images[:, 0], cifar.images[:, 2])  # grey: the channels are copies
    assert cifar.images[:, :, :2].sum() == 0 and cifar.images[:, :, :, -2:].sum() == 0  # 2-pixel black border
    pets = cats_dogs_standin()
    assert pets.classes == ["8", "9"] and torch.bincount(pets.labels).tolist() == [500, 500]
    assert pets.source.startswith("standin") and "not cats vs dogs" in pets.note
