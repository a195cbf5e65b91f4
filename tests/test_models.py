"""Every registered model, and every experiment's model as params.yaml builds it: forward, backward, shapes.
The transfer model's backbone file, as the `backbone` stage writes it and frozen_transfer reads it."""

from __future__ import annotations

import pytest
import torch

from reprozoo.training import backbones
from reprozoo.data.split import save_splits
from reprozoo.config.errors import ReprozooError
from reprozoo.models import MODELS, create_model, transfer
from reprozoo.tasks.image_classifier import build
from reprozoo.tasks import experiment

MNIST_MANIFEST = {"image_shape": [1, 28, 28], "classes": [str(d) for d in range(10)]}
MANIFESTS = {"mnist": MNIST_MANIFEST, "fashion_mnist": MNIST_MANIFEST,
             "cifar10": {"image_shape": [3, 32, 32], "classes": MNIST_MANIFEST["classes"]},
             "cats_dogs": {"image_shape": [3, 32, 32], "classes": ["8", "9"]}}


def forward_backward(model: torch.nn.Module, shape=(3, 1, 28, 28)) -> torch.Tensor:
    torch.manual_seed(0)
    out = model(torch.rand(shape))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    return out


@pytest.fixture
def backbone_dir(tmp_path, monkeypatch):
    """An empty models/backbones/ in tmp_path, for both the stage that writes it and the model that reads it."""
    folder = tmp_path / "backbones"
    monkeypatch.setattr(transfer, "BACKBONE_DIR", folder)  # backbones.pretrain writes where transfer reads
    return folder


@pytest.fixture
def lenet_digits(params, tmp_path, monkeypatch, backbone_dir):
    """backbones.lenet-digits pretrained for one epoch on a small CIFAR-shaped split under a tmp ROOT."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (120, 3, 32, 32), dtype=torch.uint8, generator=gen)
    train = {"images": images, "labels": torch.arange(120) % 10}
    save_splits(tmp_path / "data" / "splits" / "cifar10", {"train": train},
                {"dataset": "cifar10", "source": "test", **MANIFESTS["cifar10"]})
    monkeypatch.setattr(backbones, "ROOT", tmp_path)
    spec = params.backbones["lenet-digits"].model_copy(update={"epochs": 1})
    saved = backbones.pretrain("lenet-digits", spec)
    assert (backbone_dir / "lenet-digits.pt").exists()
    return saved


# frozen_transfer's default loads ImageNet weights, so the registry test uses a random VGG16; VGGs pool
# five times (32x32 at least).
SAMPLE = {"vgg_bn": ((3, 32, 32), {}), "frozen_transfer": ((3, 32, 32), {"backbone": "vgg16-random"})}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_registered_model_forward_backward(name):
    shape, kwargs = SAMPLE.get(name, ((1, 28, 28), {}))
    out = forward_backward(create_model(name, shape, 10, **kwargs), (3, *shape))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


def test_every_experiment_builds_and_trains_one_step(params, lenet_digits):
    experiments = {name: experiment(params, name)[1] for name in params.experiments["image_classifier"]}
    assert any(p.model == "frozen_transfer" for p in experiments.values())  # the backbone fixture is used
    for name, p in experiments.items():
        manifest = MANIFESTS[p.dataset]
        out = forward_backward(build(p, manifest), (2, *manifest["image_shape"]))
        assert out.shape == (2, len(manifest["classes"])), name


def test_transfer_loads_the_pretrained_backbone_frozen_with_a_new_head(params, lenet_digits, backbone_dir):
    assert lenet_digits["model"] == "lenet" and lenet_digits["num_classes"] == 8
    assert lenet_digits["classes"] == [str(d) for d in range(8)] and lenet_digits["dataset"] == "cifar10"
    state = torch.load(backbone_dir / "lenet-digits.pt", weights_only=True)["state_dict"]
    model = create_model("frozen_transfer", (3, 32, 32), 2, backbone="lenet-digits")
    loaded = model.state_dict()
    kept = [k for k in state if not k.startswith("head.4.")]
    assert kept and all(torch.equal(loaded[k], state[k]) for k in kept)  # the pretrained weights, not fresh ones
    assert {n for n, w in model.named_parameters() if w.requires_grad} == {"head.4.0.weight", "head.4.0.bias"}
    assert model.head[4][0].in_features == 84 and model.head[4][0].out_features == 2
    with torch.no_grad():
        assert torch.allclose(model(torch.rand(3, 3, 32, 32)).exp().sum(1), torch.ones(3))  # LogSoftmax output


def test_missing_backbone_file_names_the_stage_that_makes_it(backbone_dir):
    with pytest.raises(ReprozooError, match=r"backbones/lenet-digits\.pt.*dvc repro backbone@lenet-digits\b") as err:
        create_model("frozen_transfer", (3, 32, 32), 2, backbone="lenet-digits")
    assert "\n" not in str(err.value)


def test_identity_init_of_recurrent_weights(params):
    model = build(experiment(params, "s000-rnn-mnist")[1], MNIST_MANIFEST)
    rnn = model.net.rnn
    assert rnn.num_layers == 3 and rnn.hidden_size == 150 and rnn.nonlinearity == "tanh"
    for layer in range(3):
        assert torch.equal(getattr(rnn, f"weight_hh_l{layer}").detach(), torch.eye(150))


def test_normalisation_lives_inside_the_model():
    from reprozoo.models.wrap import ImageClassifier

    net = create_model("morvan_cnn", (1, 28, 28), 10)
    wrapped = ImageClassifier(net, [0.1307], [0.3081])
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(wrapped(x), net((x - 0.1307) / 0.3081))


def test_unknown_model_and_argument_are_clear_errors():
    with pytest.raises(ReprozooError, match="model 'nope' is unknown; registered: "):
        create_model("nope", (1, 28, 28), 10)
    with pytest.raises(ReprozooError, match="model_args.width: not an argument of model 'morvan_cnn'"):
        create_model("morvan_cnn", (1, 28, 28), 10, width=3)


@pytest.mark.parametrize("layers,steps", [(3, 28), (2, 1)])
def test_cpu_tanh_rnn_matches_torch_rnn_and_its_gradients(layers, steps):
    from reprozoo.models.tanh_rnn import tanh_rnn

    torch.manual_seed(0)
    rnn = torch.nn.RNN(7, 9, num_layers=layers, batch_first=True).double()
    x = torch.randn(4, steps, 7, dtype=torch.double, requires_grad=True)
    ours, theirs = tanh_rnn(rnn, x), rnn(x)[0]
    weights = torch.randn_like(theirs)  # every step's output feeds the loss, as in a stacked layer
    ours_grads = torch.autograd.grad((ours * weights).sum(), [x, *rnn.parameters()])
    their_grads = torch.autograd.grad((theirs * weights).sum(), [x, *rnn.parameters()])
    torch.testing.assert_close(ours, theirs)
    for a, b in zip(ours_grads, their_grads):
        torch.testing.assert_close(a, b)


def test_cpu_tanh_rnn_is_used_only_to_train(monkeypatch):
    from reprozoo.models import tanh_rnn

    model = create_model("image_rnn", (1, 28, 28), 10, cell="rnn", hidden_size=8, num_layers=2)
    calls = []
    original = tanh_rnn._TanhLayer.apply
    monkeypatch.setattr(tanh_rnn._TanhLayer, "apply", lambda *args: calls.append(1) or original(*args))
    images = torch.rand(3, 1, 28, 28)
    model.train()
    model(images).sum().backward()
    assert len(calls) == 2  # one per layer
    model.eval()
    with torch.no_grad():
        model(images)  # scoring and the saved model use torch's nn.RNN
    assert len(calls) == 2
