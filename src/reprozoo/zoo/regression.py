"""Seed 002's first models: Linear(1, 1) on y = 2x under eight optimizers, the hand-written
gradient descent on w . [x, x^2, 1], and logistic regression on three points."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.train import make_optimizer

# The seed's data: three points of y = 2x; logistic: only x = 3 is class 1.
LINEAR_X = torch.tensor([[1.0], [2.0], [3.0]])
LINEAR_Y = 2 * LINEAR_X
LOGISTIC_Y = torch.tensor([[0.0], [0.0], [1.0]])


def fit_linear(optimizer: str, lr: float, epochs: int, seed: int) -> tuple[nn.Linear, list[float]]:
    """Full-batch MSE fit of Linear(1, 1); returns the model and the loss before each step."""
    torch.manual_seed(seed)
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
