"""Seed 002's logistic regression: Linear(1, 1) + sigmoid on x = [1, 2, 3], y = [0, 0, 1].

Full-batch SGD on the binary cross-entropy; the figure is the x where the fitted probability
crosses 0.5 (the seed: somewhere between 2 and 3), over the seed's curve for x in [0, 10].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.data.files import sha256_tensors
from reprozoo.config.params import Count, Experiment, Positive
from reprozoo.tasks import Context, Data, Result, Task, register


if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure


class Params(Experiment):
    lr: Positive = 0.01
    epochs: Count = 500


# The seed's three points: x = 1, 2, 3; only x = 3 is class 1.
LINEAR_X = torch.tensor([[1.0], [2.0], [3.0]])
LOGISTIC_Y = torch.tensor([[0.0], [0.0], [1.0]])


def fit_logistic(lr: float, epochs: int, seed: int) -> tuple[nn.Linear, list[float]]:
    """Linear(1, 1) + sigmoid, BCE, full-batch SGD on the three points; returns the model and losses."""
    torch.manual_seed(seed)
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        loss = F.binary_cross_entropy(torch.sigmoid(model(LINEAR_X)), LOGISTIC_Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def half_probability_x(model: nn.Linear) -> float:
    """The x where sigmoid(w x + b) = 0.5, i.e. w x + b = 0."""
    return -model.bias.item() / model.weight.item()


def probability_figure(model: nn.Linear, crossing: float, lr: float, epochs: int) -> Figure:
    """p(class 1 | x) over the seed's x in [0, 10], the 0.5 line, its crossing and the three points."""
    import matplotlib.pyplot as plt

    xs = torch.linspace(0, 10, 200).view(-1, 1)
    with torch.no_grad():
        probs = torch.sigmoid(model(xs)).flatten()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(xs.flatten(), probs, label="p(class 1 | x)")
    ax.axhline(0.5, color="r", label="p = 0.5")
    ax.axvline(crossing, color="gray", linestyle=":", label=f"crosses 0.5 at x = {crossing:.2f}")
    ax.scatter(LINEAR_X.flatten(), LOGISTIC_Y.flatten(), color="k", zorder=3, label="training points")
    ax.set(xlabel="x", ylabel="probability", ylim=(-0.05, 1.05),
           title=f"logistic regression, SGD {lr}, {epochs} epochs (seed: crosses between 2 and 3)")
    ax.grid(True)
    ax.legend(fontsize=8)
    return fig


@register
class LogisticRegressionTask(Task):
    """Seed 002's logistic regression on three points."""

    kind = "logistic_regression"
    params_model = Params
    tiny = True

    def load(self, ctx: Context) -> Data:
        return Data("three-points", "seed 002 (three points in the code)",
                    sha256_tensors({"x": LINEAR_X, "y": LOGISTIC_Y}))

    def train(self, ctx: Context, data: Data) -> None:
        p = ctx.params
        self.model, self.losses = fit_logistic(p.lr, p.epochs, p.seed)

    def evaluate(self, ctx: Context, data: Data) -> Result:
        p, model, losses = ctx.params, self.model, self.losses
        ctx.log_series("loss", losses)
        crossing = half_probability_x(model)
        return Result(
            metrics={"x_at_p_half": crossing, "final_loss": losses[-1], "weight": model.weight.item(),
                     "bias": model.bias.item(), "epochs": p.epochs},
            main_metric="x_at_p_half",
            # A yes/no, so info. params.yaml's 500 epochs at lr 0.01 stop far from convergence: x = 3.99 here.
            info={"crosses_between_2_and_3": 2 < crossing < 3},
            figures={"probability_curve": probability_figure(model, crossing, p.lr, p.epochs)},
        )
