"""Seed 002's "advanced CNN" lesson: a GoogLeNet-style Inception net and a residual net on MNIST.

The seed only draws the blocks; the layer sizes are the course's (Liu Er's PyTorch
lecture 11) that the seed's figures show: Inception branches of 16 and 24 channels
(88 out), residual blocks of two 3x3 convolutions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.models.registry import register_model


class InceptionBlock(nn.Module):
    """Four branches over the same input, concatenated on channels: 16 + 24 + 24 + 24 = 88 out.

    The 1x1 convolutions first shrink the channels so the 3x3 and 5x5 ones stay cheap
    (network in network); every branch keeps H x W, so the outputs can be concatenated.
    """

    out_channels = 88

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5 = nn.Sequential(nn.Conv2d(in_channels, 16, kernel_size=1),
                                       nn.Conv2d(16, 24, kernel_size=5, padding=2))
        self.branch3x3 = nn.Sequential(nn.Conv2d(in_channels, 16, kernel_size=1),
                                       nn.Conv2d(16, 24, kernel_size=3, padding=1),
                                       nn.Conv2d(24, 24, kernel_size=3, padding=1))
        self.branch_pool = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([self.branch1x1(x), self.branch5x5(x), self.branch3x3(x), pooled], dim=1)  # (N, 88, H, W)


class ResidualBlock(nn.Module):
    """relu(x + conv(relu(conv(x)))): both convolutions keep the shape so F(x) + x is defined."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


def _side(size: int) -> int:
    """Side after two (conv k5, no padding) + max-pool 2 stages: 28 -> 12 -> 4."""
    return ((size - 4) // 2 - 4) // 2


class InceptionNet(nn.Module):
    """conv(k5) -> pool -> Inception -> conv(k5) -> pool -> Inception -> Linear (1408 -> 10 on MNIST)."""

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.incep1 = InceptionBlock(10)
        self.conv2 = nn.Conv2d(InceptionBlock.out_channels, 20, kernel_size=5)
        self.incep2 = InceptionBlock(20)
        self.head = nn.Linear(InceptionBlock.out_channels * _side(height) * _side(width), num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.incep1(F.relu(F.max_pool2d(self.conv1(images), 2)))  # (N, 88, 12, 12)
        x = self.incep2(F.relu(F.max_pool2d(self.conv2(x), 2)))  # (N, 88, 4, 4)
        return self.head(x.flatten(1))


class ResidualNet(nn.Module):
    """conv(k5) -> pool -> residual block -> conv(k5) -> pool -> residual block -> Linear (512 -> 10)."""

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=5)
        self.block1 = ResidualBlock(16)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5)
        self.block2 = ResidualBlock(32)
        self.head = nn.Linear(32 * _side(height) * _side(width), num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.block1(F.max_pool2d(F.relu(self.conv1(images)), 2))  # (N, 16, 12, 12)
        x = self.block2(F.max_pool2d(F.relu(self.conv2(x)), 2))  # (N, 32, 4, 4)
        return self.head(x.flatten(1))


@register_model
def inception_net(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Seed 002's GoogLeNet-style net: two Inception blocks."""
    return InceptionNet(*input_shape, num_classes)


@register_model
def residual_net(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Seed 002's residual net: two residual blocks."""
    return ResidualNet(*input_shape, num_classes)
