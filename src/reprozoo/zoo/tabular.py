"""Seed 002's deep MLP on scikit-learn's breast-cancer data (30 features, 569 tumours)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.data.split import stratified_indices
from reprozoo.train import make_optimizer

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
            every: int = 100) -> list[dict]:
    """Full-batch BCE training as the seed does; a history row every `every` epochs (and the last)."""
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
            history.append({"epoch": epoch, "train_loss": loss.item(), **{f"val_{k}": v for k, v in
                                                                           evaluate_binary(model, *val).items()}})
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
