"""The training loop on real data, shrunk: deterministic on the CPU, graph replay equal to eager on CUDA."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from reprozoo.training.cuda_graph import can_graph
from reprozoo.data.mnist import DIGITS, from_embedded
from reprozoo.data.split import split_raw
from reprozoo.config.errors import ReprozooError
from reprozoo.training.optim import make_optimizer
from reprozoo.training.runtime import configure, seed_everything
from reprozoo.tasks.image_classifier import build
from reprozoo.training.loop import fit
from reprozoo.tasks import experiment


@pytest.fixture(scope="module")
def small_split():
    """600 real training and 200 validation images, split from the embedded MNIST-5k by the pipeline's own code.

    Not data/splits/mnist: it may not exist yet, and the default (the full MNIST) has no validation part.
    """
    parts = split_raw(from_embedded(), 0.1, 0.2, 0)
    take = lambda part, n: {k: v[:n] for k, v in part.items()}
    return take(parts["train"], 600), take(parts["val"], 200), {"image_shape": [1, 28, 28], "classes": DIGITS}


def train_small(params, name, split, device="cpu", epochs=2, fit_per_epoch=False, **options):
    """fit_per_epoch: one fit() call per epoch, each going on from the last (as a resumed run does)."""
    train, val, manifest = split
    exp = experiment(params, name)[1]
    device = configure(device, params.runtime.threads, True)
    generator = seed_everything(exp.seed)
    model = build(exp, manifest).to(device)
    optimizer = make_optimizer(exp.optimizer, model.parameters(), exp.lr, exp.optimizer_args)
    history = []
    for upto in range(1, epochs + 1) if fit_per_epoch else [epochs]:
        history = fit(model, train, val, optimizer, exp.loss, upto, exp.batch_size, generator, device,
                      history=history, **options)
    return history, model


@pytest.mark.parametrize("name", ["s000-rnn-mnist", "s001-lstm-mnist", "s003-cnn-mnist"])
def test_training_is_deterministic_on_cpu(params, small_split, name):
    first, model_a = train_small(params, name, small_split)
    second, model_b = train_small(params, name, small_split)
    assert [r["val_loss"] for r in first] == [r["val_loss"] for r in second]
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()):
        assert torch.equal(a, b)
    assert first[-1]["train_loss"] < first[0]["train_loss"] * 1.05  # it learns, or at least does not blow up


def test_fit_without_a_validation_split_logs_training_curves_only(params, small_split):
    train, val, manifest = small_split
    none = {k: v[:0] for k, v in val.items()}  # the full MNIST's default: val_fraction 0
    model = build(experiment(params, "s003-cnn-mnist")[1], manifest)
    rows = fit(model, train, none, make_optimizer("sgd", model.parameters(), 0.01, {}), "cross_entropy", 2, 100,
               seed_everything(0), torch.device("cpu"))
    assert [set(r) for r in rows] == [{"epoch", "train_loss", "train_accuracy", "seconds"}] * 2
    with_val = fit(model, train, val, make_optimizer("sgd", model.parameters(), 0.01, {}), "cross_entropy", 1, 100,
                   seed_everything(0), torch.device("cpu"))
    assert {"val_loss", "val_accuracy"} <= set(with_val[0])


@pytest.mark.parametrize("env, expected", [({}, "3000"), ({"OMP_WAIT_POLICY": "PASSIVE"}, "None"),
                                           ({"GOMP_SPINCOUNT": "0"}, "0")])
def test_openmp_threads_spin_briefly_unless_the_user_chose(env, expected):
    """Importing reprozoo (before torch) bounds libgomp's spinning; a user's own setting is left alone."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = "import os, reprozoo; print(os.environ.get('GOMP_SPINCOUNT'))"
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == expected


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_cpu_optimizers_are_foreach_and_step_exactly_like_the_default(name):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    copy = [p.detach().clone().requires_grad_() for p in net.parameters()]
    ours = make_optimizer(name, net.parameters(), 0.1, {})
    default = torch.optim.Adam(copy, lr=0.1) if name == "adam" else torch.optim.SGD(copy, lr=0.1)
    assert ours.defaults["foreach"] is True and not default.defaults["foreach"]
    for step in range(5):
        grads = [torch.randn_like(p) for p in copy]
        for params, optimizer in ((list(net.parameters()), ours), (copy, default)):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            optimizer.step()
    for a, b in zip(net.parameters(), copy):
        assert torch.equal(a, b)


def test_diverging_loss_is_a_clear_error(params, small_split):
    exp = experiment(params, "s003-cnn-mnist")[1]
    train, val, manifest = small_split
    model = build(exp, manifest)
    with torch.no_grad():
        model.net.head.weight[0, 0] = float("nan")  # one poisoned weight: every loss from here is NaN
    optimizer = make_optimizer(exp.optimizer, model.parameters(), exp.lr, {})
    with pytest.raises(ReprozooError, match="training diverged"):
        fit(model, train, val, optimizer, exp.loss, 3, exp.batch_size, seed_everything(0), torch.device("cpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["s000-rnn-mnist", "s003-cnn-mnist", "s002-mnist-fc"])  # Adam, Adam, SGD
def test_cuda_graph_replay_matches_eager(params, small_split, name):
    eager, _ = train_small(params, name, small_split, device="cuda", cuda_graphs=False)
    graphed, _ = train_small(params, name, small_split, device="cuda", cuda_graphs=True)
    for a, b in zip(eager, graphed):
        assert a["val_accuracy"] == pytest.approx(b["val_accuracy"], abs=0.01)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name,amp", [("s002-mnist-fc", False), ("s000-rnn-mnist", True)])
def test_cuda_graphs_survive_a_second_fit(params, small_split, name, amp):
    """Each fit() captures anew, after an evaluation (eval mode) and after eager short batches (which set
    the gradients to None). On an H100 this once captured the eval-mode forward, and replayed into
    gradient memory that had been freed and reused (device-side index asserts)."""
    history, _ = train_small(params, name, small_split, device="cuda", epochs=3, fit_per_epoch=True, amp=amp,
                             cuda_graphs=True)
    torch.cuda.synchronize()
    assert len(history) == 3 and history[-1]["train_loss"] < history[0]["train_loss"]


def test_graph_replay_is_offered_only_for_steps_that_replay_exactly():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")  # can_graph reads only the device type
    weights = [torch.nn.Parameter(torch.zeros(2))]
    assert can_graph(torch.optim.Adam(weights), cuda)
    assert can_graph(torch.optim.SGD(weights, lr=0.1, momentum=0.5), cuda)
    assert not can_graph(torch.optim.SGD(weights, lr=0.1, momentum=0.5, dampening=0.1), cuda)
    assert not can_graph(torch.optim.LBFGS(weights), cuda)
    assert not can_graph(torch.optim.Adam(weights), cpu)
