"""The saved form of every image classifier: [0, 1] pixels in, class scores out."""

from __future__ import annotations

import math

import torch
from torch import nn


class ImageClassifier(nn.Module):
    """Wraps a net with its input normalisation (and pixel permutation, if any), so a saved model
    needs no preprocessing recipe."""

    def __init__(self, net: nn.Module, mean: list[float], std: list[float], pixel_order: torch.Tensor | None = None):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        # (C*H*W,) int64: input value i of the net is pixel pixel_order[i] of the image (seed 004's perm).
        self.register_buffer("pixel_order", pixel_order)

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) in [0, 1] -> (N, classes)
        x = (images - self.mean) / self.std
        if self.pixel_order is not None:
            x = x.flatten(1)[:, self.pixel_order].view_as(x)
        return self.net(x)


def pixel_permutation(input_shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """One fixed permutation of the C*H*W input values, drawn from its own seeded generator."""
    return torch.randperm(math.prod(input_shape), generator=torch.Generator().manual_seed(seed))
