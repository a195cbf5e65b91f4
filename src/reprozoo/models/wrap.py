"""The saved form of every image classifier: [0, 1] pixels in, class scores out."""

from __future__ import annotations

import torch
from torch import nn


class ImageClassifier(nn.Module):
    """Wraps a net with its input normalisation, so a saved model needs no preprocessing recipe."""

    def __init__(self, net: nn.Module, mean: list[float], std: list[float]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) in [0, 1] -> (N, classes)
        return self.net((images - self.mean) / self.std)
