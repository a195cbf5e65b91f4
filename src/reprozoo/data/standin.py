"""Offline stand-ins for datasets we cannot fetch here, built from real embedded images.

CIFAR-10 and cats-vs-dogs have no offline source. Rather than skip those
experiments, the default run trains them on MNIST-5k digits rendered as 3x32x32
colour images. Every stand-in says so in its source name (standin-...), which the
manifest, metrics, MLflow tags and the report carry: its figures are never
comparable with the seed's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reprozoo.data.mnist import DIGITS, from_embedded
from reprozoo.data.split import Raw


def mnist_rgb32(raw: Raw | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-5k as CIFAR-shaped images: 28x28 padded by 2 black pixels to 32x32, grey copied to 3 channels."""
    raw = raw or from_embedded()
    images = F.pad(raw.images, (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()  # (N, 3, 32, 32) uint8
    return images, raw.labels


def cifar10_standin() -> Raw:
    """The CIFAR-10 stand-in: all ten MNIST-5k digits as 3x32x32 (classes are digits, not CIFAR's)."""
    raw = from_embedded()
    images, labels = mnist_rgb32(raw)
    return Raw(images, labels, raw.is_test, DIGITS, "standin-mnist5k-rgb32", raw.files,
               "STAND-IN, not CIFAR-10: MNIST-5k digits rendered 3x32x32 (" + raw.note + ")")


# The transfer stand-in's backbone is pretrained on digits 0-7 (models/transfer.py), so the
# new head's task uses the two digits the backbone never saw labelled.
TRANSFER_DIGITS = (8, 9)


def cats_dogs_standin() -> Raw:
    """The cats-vs-dogs stand-in: MNIST-5k 8s and 9s as 3x32x32, a two-class task for a new head."""
    raw = from_embedded()
    images, labels = mnist_rgb32(raw)
    keep = torch.isin(labels, torch.tensor(TRANSFER_DIGITS))
    two_class = (labels[keep] == TRANSFER_DIGITS[1]).long()
    return Raw(images[keep].contiguous(), two_class, raw.is_test[keep], [str(d) for d in TRANSFER_DIGITS],
               "standin-mnist5k-8v9-rgb32",
               raw.files, "STAND-IN, not cats vs dogs: MNIST-5k digits 8 and 9 rendered 3x32x32 (" + raw.note + ")")
