"""Seed 002's deep MLP (30-25-20-15-10-5-1) on scikit-learn's breast-cancer data (569 tumours, 30 features).

Full-batch BCE under SGD, as the seed trains it; scored at the seed's 0.5 threshold on a held-out,
stratified test part. The seed's net as written stacks sigmoid layers and can stall at predicting
one class for every tumour: the figure says so, beside the majority class's accuracy.
"""

from __future__ import annotations

from typing import Annotated, Callable, Literal, TYPE_CHECKING

from pydantic import Field, model_validator
import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.data.files import sha256_tensors
from reprozoo.data.split import stratified_indices
from reprozoo.training.optim import make_optimizer
from reprozoo.config.params import Count, Experiment, Fraction, Optimizer, Positive
from reprozoo.tasks import Context, Data, Result, Task, register


if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure


class Params(Experiment):
    hidden: Annotated[list[Count], Field(min_length=1)]
    activations: list[Literal["relu", "sigmoid", "tanh"]]  # one per hidden layer
    optimizer: Optimizer = "sgd"
    lr: Positive = 0.05
    optimizer_args: dict = {}
    epochs: Count = 10000
    val_fraction: Fraction = 0.2
    test_fraction: Fraction = 0.2
    standardise: bool = True

    @model_validator(mode="after")
    def _one_activation_per_layer(self):
        if len(self.activations) != len(self.hidden):
            raise ValueError(f"activations: {len(self.activations)} given; allowed: one per hidden layer "
                             f"({len(self.hidden)})")
        return self


ACTIVATION_MODULES = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def load_breast_cancer() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Features (569, 30) float32, labels (569,) int64 (1 = benign, scikit-learn's coding), class names."""
    from sklearn.datasets import load_breast_cancer as sk_load

    data = sk_load()
    return (torch.tensor(data.data, dtype=torch.float32), torch.tensor(data.target, dtype=torch.long),
            [str(c) for c in data.target_names])


def split_tabular(x: torch.Tensor, y: torch.Tensor, val_fraction: float, test_fraction: float, seed: int,
                  standardise: bool) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Stratified seeded train/val/test; features standardised with the training part's mean and std.

    The seed takes the first 60 % / next 20 % / last 20 % rows unshuffled and builds a
    BatchNorm1d it never applies, so its net sees raw features spanning 0.001 to 4000;
    here the split is stratified and the standardisation is applied (the issue's recipe).
    """
    parts = stratified_indices(y, {"val": val_fraction, "test": test_fraction}, seed)
    train_x = x[parts["train"]]
    mean, std = train_x.mean(0), train_x.std(0)
    scale = (lambda t: (t - mean) / std) if standardise else (lambda t: t)
    return {name: (scale(x[idx]), y[idx]) for name, idx in parts.items()}


class DeepMLP(nn.Module):
    """Linear layers of the given widths, each followed by its activation, then Linear(., 1) + sigmoid."""

    def __init__(self, in_features: int, hidden: list[int], activations: list[str]):
        super().__init__()
        layers: list[nn.Module] = []
        for width, act in zip(hidden, activations):
            layers += [nn.Linear(in_features, width), ACTIVATION_MODULES[act]()]
            in_features = width
        layers.append(nn.Linear(in_features, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 30) -> (N,) probability of class 1
        return torch.sigmoid(self.net(x)).squeeze(1)


def fit_mlp(model: nn.Module, train: tuple, val: tuple, optimizer: str, lr: float, extra: dict, epochs: int,
            every: int = 100, on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """Full-batch BCE training as the seed does; a history row every `every` epochs (and the last).

    `on_row` is called with each row as it is made (the harness's per-epoch report).
    """
    opt = make_optimizer(optimizer, model.parameters(), lr, extra)
    x, y = train[0], train[1].float()
    history = []
    for epoch in range(1, epochs + 1):
        model.train()

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.binary_cross_entropy(model(x), y)
            loss.backward()
            return loss

        loss = opt.step(closure)
        if epoch % every == 0 or epoch == epochs:
            row = {"epoch": epoch, "train_loss": loss.item(),
                   **{f"val_{k}": v for k, v in evaluate_binary(model, *val).items()}}
            history.append(row)
            if on_row:
                on_row(row)
    return history


@torch.no_grad()
def evaluate_binary(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, precision and recall of class 1 at the seed's 0.5 threshold, plus the BCE loss."""
    model.eval()
    p = model(x)
    pred = (p > threshold).long()
    tp = int(((pred == 1) & (y == 1)).sum())
    predicted_pos, actual_pos = int((pred == 1).sum()), int((y == 1).sum())
    return {
        "loss": F.binary_cross_entropy(p, y.float()).item(),
        "accuracy": (pred == y).float().mean().item(),
        "precision": tp / predicted_pos if predicted_pos else 0.0,
        "recall": tp / actual_pos if actual_pos else 0.0,
        "predicted_positive_fraction": predicted_pos / len(y),
    }


def training_figure(name: str, p: Params, in_features: int, history: list[dict], test: dict, majority: float,
                    stalled: bool) -> Figure:
    """Train and val loss, and val accuracy against the majority class's, per history row."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = [r["epoch"] for r in history]
    ax1.plot(epochs, [r["train_loss"] for r in history], label="train")
    ax1.plot(epochs, [r["val_loss"] for r in history], label="val")
    ax1.set(xlabel="epoch", ylabel="BCE", title="loss")
    ax1.legend()
    ax2.plot(epochs, [r["val_accuracy"] for r in history], label="val accuracy")
    ax2.axhline(majority, color="r", linestyle=":", label=f"majority class {majority:.3f}")
    ax2.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
            title=f"{'-'.join(map(str, [in_features, *p.hidden, 1]))} ({', '.join(p.activations)})")
    ax2.legend()
    fig.suptitle(f"{name}: test accuracy {test['accuracy']:.3f}" + (" - STALLED at one class" if stalled else ""))
    return fig


@register
class TabularMlpTask(Task):
    """Seed 002's deep MLP on the breast-cancer data."""

    kind = "tabular_mlp"
    data_figures = ("majority_class_accuracy",)  # from the test labels alone
    params_model = Params
    tiny = True  # the 8x-slower-on-2-threads net: matrices of a few hundred numbers

    def load(self, ctx: Context) -> Data:
        import sklearn

        p = ctx.params
        x, y, classes = load_breast_cancer()
        parts = split_tabular(x, y, p.val_fraction, p.test_fraction, p.seed, p.standardise)
        return Data("breast-cancer", "embedded", sha256_tensors({"x": x, "y": y}),
                    f"scikit-learn {sklearn.__version__} load_breast_cancer (569 x 30)",
                    {"classes": classes, "in_features": x.shape[1], **parts})

    def train(self, ctx: Context, data: Data) -> None:
        p, parts = ctx.params, data.parts
        self.model = DeepMLP(parts["in_features"], p.hidden, p.activations)
        # A row every 100 epochs goes to MLflow as it comes, so a long run shows progress. Measured: 13-22 ms
        # a row, 1.3 s of the 10000-epoch run's 6.7 s train_seconds (5.4 s without).
        self.history = fit_mlp(self.model, parts["train"], parts["val"], p.optimizer, p.lr, p.optimizer_args,
                               p.epochs, on_row=ctx.log_epoch)

    def evaluate(self, ctx: Context, data: Data) -> Result:
        p, parts, history = ctx.params, data.parts, self.history
        test = evaluate_binary(self.model, *parts["test"])
        positive = parts["test"][1].float().mean().item()
        majority = max(positive, 1 - positive)
        # A stalled net outputs (nearly) one probability for every tumour: one class predicted throughout.
        stalled = test["predicted_positive_fraction"] in (0.0, 1.0)
        return Result(
            metrics={**{f"test_{k}": v for k, v in test.items()}, "majority_class_accuracy": majority,
                     "val_accuracy": history[-1]["val_accuracy"], "epochs": p.epochs,
                     **{f"{k}_samples": len(parts[k][1]) for k in ("train", "val", "test")}},
            main_metric="test_accuracy",
            info={"positive_class": parts["classes"][1], "classes": parts["classes"], "stalled": stalled},
            figures={"training": training_figure(ctx.name, p, parts["in_features"], history, test, majority,
                                                 stalled)},
        )
