"""Every registered model, and every experiment's model as params.yaml builds it: forward, backward, shapes."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reprozoo.classifier import build_classifier
from reprozoo.errors import ReprozooError
from reprozoo.models import MODELS, create_model

MNIST_MANIFEST = {"image_shape": [1, 28, 28], "classes": [str(d) for d in range(10)]}


def forward_backward(model: torch.nn.Module, shape=(3, 1, 28, 28)) -> torch.Tensor:
    torch.manual_seed(0)
    out = model(torch.rand(shape))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    return out


# Models that need more than MNIST's shape or their defaults: VGGs pool five times (32x32 at
# least); frozen_transfer's default downloads ImageNet weights, so the test uses random ones.
SAMPLE = {"vgg_bn": ((3, 32, 32), {}), "frozen_transfer": ((3, 32, 32), {"backbone": "vgg16-random"})}
MANIFESTS = {"mnist": MNIST_MANIFEST, "cifar10": {"image_shape": [3, 32, 32], "classes": MNIST_MANIFEST["classes"]},
             "cats_dogs": {"image_shape": [3, 32, 32], "classes": ["8", "9"]}}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_registered_model_forward_backward(name):
    shape, kwargs = SAMPLE.get(name, ((1, 28, 28), {}))
    out = forward_backward(create_model(name, shape, 10, **kwargs), (3, *shape))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


def test_every_experiment_builds_and_trains_one_step(params):
    for name, exp in params.experiments.items():
        if "pretrain_epochs" in exp.model_args:  # the stand-in backbone pretrains while built: keep it short
            exp = dataclasses.replace(exp, model_args={**exp.model_args, "pretrain_epochs": 1})
        manifest = MANIFESTS[exp.dataset]
        model = build_classifier(exp, manifest)
        out = forward_backward(model, (2, *manifest["image_shape"]))
        assert out.shape == (2, len(manifest["classes"])), name


def test_identity_init_of_recurrent_weights(params):
    model = build_classifier(params.experiments["s000-rnn-mnist"], MNIST_MANIFEST)
    rnn = model.net.rnn
    assert rnn.num_layers == 3 and rnn.hidden_size == 150 and rnn.nonlinearity == "tanh"
    for layer in range(3):
        assert torch.equal(getattr(rnn, f"weight_hh_l{layer}").detach(), torch.eye(150))


def test_normalisation_lives_inside_the_model():
    net = create_model("morvan_cnn", (1, 28, 28), 10)
    from reprozoo.models.wrap import ImageClassifier

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
