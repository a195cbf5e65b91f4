"""Fully connected image classifiers: the image is flattened to one vector (seeds 002, 004)."""

from __future__ import annotations

import math

import torch
from torch import nn

from reprozoo.models.registry import register_model


class MLP(nn.Module):
    """Flatten, then Linear + ReLU per hidden size, then a linear output layer (+ LogSoftmax for NLL)."""

    def __init__(self, in_features: int, hidden: list[int], num_classes: int, log_softmax: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, num_classes))
        if log_softmax:  # seed 004's FC2Layer ends in LogSoftmax and trains with NLLLoss
            layers.append(nn.LogSoftmax(dim=1))
        self.network = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images)  # (N, C, H, W) -> (N, classes)


@register_model
def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: list[int] = (512, 256, 128, 64),
        log_softmax: bool = False) -> nn.Module:
    """Seed 002's course net 784-512-256-128-64-10 by default; seed 004's FC2Layer is hidden [8, 8]."""
    return MLP(math.prod(input_shape), list(hidden), num_classes, log_softmax)
