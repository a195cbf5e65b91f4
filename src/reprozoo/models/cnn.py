"""Convolutional image classifiers."""

from __future__ import annotations

import torch
from torch import nn

from reprozoo.models import register_model


class MorvanCNN(nn.Module):
    """Seed 003: two conv(k5, pad 2) + ReLU + max-pool 2 blocks, then one linear layer."""

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int, channels: tuple[int, int]):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (N, c1, H/2, W/2)
            nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # (N, c2, H/4, W/4)
        )
        self.head = nn.Linear(c2 * (height // 4) * (width // 4), num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).flatten(1))


@register_model
def morvan_cnn(input_shape: tuple[int, ...], num_classes: int, channels: tuple[int, int] = (16, 32)) -> nn.Module:
    """Seed 003's CNN: 1->16->32 channels, 32*7*7 features on MNIST."""
    c, h, w = input_shape
    return MorvanCNN(c, h, w, num_classes, tuple(channels))
