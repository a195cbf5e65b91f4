"""Seed 002's first model: Linear(1, 1) on three points of y = 2x, fitted under each optimizer in params.

Every optimizer fits from the same seed, full batch, MSE; the figure is each fit's prediction at
x = 4 (the seed's: close to 8). Then the seed's hand-written gradient descent on w . [x, x^2, 1],
one sample at a time. One experiment, not one per optimizer: a fit takes ~0.2 s, while each stage
process spends seconds importing torch and MLflow. Each optimizer still gets its own nested run.
"""

from __future__ import annotations

from typing import Annotated, TYPE_CHECKING

from pydantic import Field
import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.data.files import sha256_tensors
from reprozoo.training.optim import make_optimizer
from reprozoo.config.params import Count, Experiment, Optimizer, Positive
from reprozoo.tasks import Context, Data, Result, Task, register


if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure


class Params(Experiment):
    optimizers: Annotated[list[Optimizer], Field(min_length=1)]  # one nested MLflow run each
    lr: Positive = 0.01
    epochs: Count = 1000
    predict_at: float = 4.0
    handwritten_lr: Positive = 0.001  # the seed's hand-written descent on w . [x, x^2, 1]
    handwritten_epochs: Count = 1000


# The seed's data: three points of y = 2x.
LINEAR_X = torch.tensor([[1.0], [2.0], [3.0]])
LINEAR_Y = 2 * LINEAR_X


def fit_linear(optimizer: str, lr: float, epochs: int, seed: int) -> tuple[nn.Linear, list[float]]:
    """Full-batch MSE fit of Linear(1, 1); returns the model and the loss before each step."""
    torch.manual_seed(seed)  # every optimizer starts from the same weights, whatever ran before it
    model = nn.Linear(1, 1)
    opt = make_optimizer(optimizer, model.parameters(), lr, {})

    def closure() -> torch.Tensor:
        # LBFGS calls this several times per step to re-evaluate the loss (the seed's
        # `optimizer.step()` without a closure raises for LBFGS); the others call it once.
        opt.zero_grad()
        loss = F.mse_loss(model(LINEAR_X), LINEAR_Y)
        loss.backward()
        return loss

    losses = []
    for _ in range(epochs):
        loss = opt.step(closure)  # every optimizer returns the closure's first loss: the loss before the step
        losses.append(loss.item())
    return model, losses


def quadratic_features(x: float) -> torch.Tensor:
    """The seed's hand-made features [x, x^2, 1]."""
    return torch.tensor([x, x * x, 1.0])


def fit_handwritten(lr: float, epochs: int, seed: int) -> tuple[torch.Tensor, list[float]]:
    """The seed's loop: w . [x, x^2, 1], squared error, one sample at a time, w -= lr * grad by hand.

    Autograd computes the gradient; the update is written out, as in the seed. The loss
    recorded per epoch is the last sample's (x = 3), as the seed plots it.
    """
    gen = torch.Generator().manual_seed(seed)
    w = torch.rand(3, generator=gen).requires_grad_(True)
    losses = []
    for _ in range(epochs):
        for x, y in zip(LINEAR_X.flatten().tolist(), LINEAR_Y.flatten().tolist()):
            loss = (w.dot(quadratic_features(x)) - y) ** 2
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
            w.grad.zero_()
        losses.append(loss.item())
    return w.detach(), losses


def predict_handwritten(w: torch.Tensor, x: float) -> float:
    """w . [x, x^2, 1]."""
    return float(w.dot(quadratic_features(x)))


def loss_curves_figure(fits: dict[str, dict], p: Params) -> Figure:
    """Every optimizer's MSE per epoch, log scale, labelled with its prediction."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for opt, f in fits.items():
        ax.plot(range(1, len(f["losses"]) + 1), [max(v, 1e-12) for v in f["losses"]],  # log scale: no zeros
                label=f"{opt}: predict({p.predict_at:g}) = {f['prediction']:.3f}")
    ax.set(yscale="log", xlabel="epoch", ylabel="MSE loss (log scale)",
           title=f"Linear(1, 1) on y = 2x, lr {p.lr}, {p.epochs} epochs (seed 002)")
    ax.legend(fontsize=8)
    return fig


def handwritten_figure(losses: list[float], prediction: float) -> Figure:
    """The hand-written descent's squared error of x = 3 per epoch."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(losses) + 1), losses)
    ax.set(yscale="log", xlabel="epoch", ylabel="squared error of x = 3",
           title=f"hand-written GD on w . [x, x^2, 1]: predict(4) = {prediction:.3f}")
    return fig


@register
class LinearRegressionTask(Task):
    """Seed 002's y = 2x under each optimizer, then the hand-written descent."""

    kind = "linear_regression"
    params_model = Params
    tiny = True

    def load(self, ctx: Context) -> Data:
        return Data("y=2x", "seed 002 (three points in the code)", sha256_tensors({"x": LINEAR_X, "y": LINEAR_Y}))

    def train(self, ctx: Context, data: Data) -> None:
        p = ctx.params
        self.fits = {}
        for optimizer in p.optimizers:
            model, losses = fit_linear(optimizer, p.lr, p.epochs, p.seed)
            with torch.no_grad():
                prediction = model(torch.tensor([[p.predict_at]])).item()
            self.fits[optimizer] = {"prediction": prediction, "losses": losses, "weight": model.weight.item(),
                                    "bias": model.bias.item()}
        self.w, self.hand_losses = fit_handwritten(p.handwritten_lr, p.handwritten_epochs, p.seed)

    def evaluate(self, ctx: Context, data: Data) -> Result:
        p, fits = ctx.params, self.fits
        for optimizer, f in fits.items():  # one nested run per optimizer, as the seed compares them
            with ctx.child(optimizer):
                ctx.log_params({"optimizer": optimizer})
                ctx.log_series("loss", f["losses"])
                ctx.log_series("prediction", [f["prediction"]])
        ctx.log_series("handwritten_loss", self.hand_losses)
        hand_prediction = predict_handwritten(self.w, p.predict_at)
        best = min(fits, key=lambda o: abs(fits[o]["prediction"] - 2 * p.predict_at))
        metrics = {**{f"prediction_{o}": f["prediction"] for o, f in fits.items()},
                   **{f"final_loss_{o}": f["losses"][-1] for o, f in fits.items()},
                   "handwritten_prediction": hand_prediction, "handwritten_final_loss": self.hand_losses[-1],
                   "epochs": p.epochs}
        return Result(
            metrics=metrics,
            # The seed's own fit is nn.Linear under SGD; without it, the fit closest to 2 * predict_at.
            main_metric="prediction_sgd" if "sgd" in fits else f"prediction_{best}",
            info={"predict_at": p.predict_at,
                  "predictions": {o: f["prediction"] for o, f in fits.items()},
                  "weights": {o: {"weight": f["weight"], "bias": f["bias"]} for o, f in fits.items()},
                  "best_optimizer": best,
                  "handwritten": {"w": [round(v, 6) for v in self.w.tolist()],
                                  "prediction": hand_prediction, "final_loss": self.hand_losses[-1]}},
            figures={"loss_curves": loss_curves_figure(fits, p),
                     "handwritten_loss": handwritten_figure(self.hand_losses, hand_prediction)},
        )
