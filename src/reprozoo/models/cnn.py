"""Convolutional image classifiers."""

from __future__ import annotations

import torch
from torch import nn

from reprozoo.models.registry import register_model


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


def flat_features(features: nn.Module, input_shape: tuple[int, ...]) -> int:
    """How many features `features` gives for one input of `input_shape`, by running it once."""
    with torch.no_grad():
        return features(torch.zeros(1, *input_shape)).flatten(1).shape[1]


def dense_head(in_features: int, hidden: list[int], num_classes: int) -> nn.Sequential:
    """Linear + ReLU per hidden size, then a linear output layer."""
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(in_features, size), nn.ReLU()]
        in_features = size
    return nn.Sequential(*layers, nn.Linear(in_features, num_classes))


class ConvNet(nn.Module):
    """Conv stages (conv, max-pool, ReLU or conv, ReLU, max-pool) then a dense head; optional LogSoftmax."""

    def __init__(self, features: nn.Sequential, input_shape: tuple[int, ...], hidden: list[int], num_classes: int,
                 log_softmax: bool = False):
        super().__init__()
        self.features = features
        self.head = dense_head(flat_features(features, input_shape), hidden, num_classes)
        self.log_softmax = log_softmax  # seed 004's nets end in log_softmax and train with NLLLoss

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        scores = self.head(self.features(images).flatten(1))
        return torch.log_softmax(scores, dim=1) if self.log_softmax else scores


@register_model
def course_cnn(input_shape: tuple[int, ...], num_classes: int, channels: list[int] = (10, 20, 30),
               kernels: list[int] = (3, 3, 3), hidden: list[int] = ()) -> nn.Module:
    """Seed 002's two small CNNs: conv -> max-pool 2 -> ReLU per stage (the seed's order), then FC layers.

    First net: kernels 3, 3, 3 and Linear(30, 10); second: kernels 5, 5, 3 and FC 30-20-15-10.
    """
    layers: list[nn.Module] = []
    in_channels = input_shape[0]
    for out, k in zip(channels, kernels, strict=True):
        layers += [nn.Conv2d(in_channels, out, kernel_size=k), nn.MaxPool2d(2), nn.ReLU()]
        in_channels = out
    return ConvNet(nn.Sequential(*layers), input_shape, list(hidden), num_classes)


@register_model
def small_cnn(input_shape: tuple[int, ...], num_classes: int, n_feature: int = 6) -> nn.Module:
    """Seed 004's CNN: conv(k5) -> ReLU -> pool twice with n_feature maps, Linear(n*4*4, 50), Linear(50, 10)."""
    features = nn.Sequential(
        nn.Conv2d(input_shape[0], n_feature, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),  # (N, n, 12, 12)
        nn.Conv2d(n_feature, n_feature, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),  # (N, n, 4, 4)
    )
    return ConvNet(features, input_shape, [50], num_classes, log_softmax=True)


@register_model
def lenet(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Seed 004's CIFAR-10 net: conv(3->6, k5) pool conv(6->16, k5) pool, FC 400-120-84-10 on 32x32."""
    features = nn.Sequential(
        nn.Conv2d(input_shape[0], 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),  # (N, 6, 14, 14)
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),  # (N, 16, 5, 5)
    )
    return ConvNet(features, input_shape, [120, 84], num_classes)


VGG_CFG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


@register_model
def vgg_bn(input_shape: tuple[int, ...], num_classes: int, cfg: list = tuple(VGG_CFG)) -> nn.Module:
    """Seed 004's CIFAR-10 VGG: conv3x3 pad 1 + BatchNorm + ReLU per number, max-pool 2 per 'M'.

    Fixed seed bug: the seed declares Linear(2048, 10), but five poolings leave a 32x32
    input 1x1x512, so the classifier is Linear(512, 10) (sized from the input here).
    The seed's trailing AvgPool2d(kernel_size=1, stride=1) is the identity and is left out.
    """
    layers: list[nn.Module] = []
    in_channels = input_shape[0]
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, item, kernel_size=3, padding=1), nn.BatchNorm2d(item), nn.ReLU()]
            in_channels = item
    return ConvNet(nn.Sequential(*layers), input_shape, [], num_classes)
