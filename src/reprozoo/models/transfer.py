"""Transfer learning (seed 004): a pretrained net, every weight frozen, its last layer replaced and trained.

The seed takes torchvision's ImageNet VGG16, freezes it, and swaps classifier[6]
(Linear(4096, 1000)) for Linear(4096, 2) + LogSoftmax. ImageNet weights and the
cats-vs-dogs photos cannot be fetched offline, so the default run uses a stand-in
backbone: seed 004's LeNet, pretrained by the pipeline on MNIST-5k digits 0-7
(rendered 3x32x32), frozen, with its last layer fc3 replaced the same way.
"""

from __future__ import annotations

import torch
from torch import nn

from reprozoo.errors import ReprozooError
from reprozoo.models import create_model, register_model

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
BACKBONES = ("vgg16-imagenet", "vgg16-random", "lenet-digits")


def replace_head(net: nn.Module, path: str, num_classes: int) -> nn.Module:
    """Freeze every weight of `net`, then put a fresh Linear(in, num_classes) + LogSoftmax at `path`.

    `path` names a Linear inside an nn.Sequential ("classifier.6"); afterwards that new
    layer is the only trainable one, as in the seed.
    """
    for p in net.parameters():
        p.requires_grad = False
    *parents, index = path.split(".")
    container = net.get_submodule(".".join(parents))
    old = container[int(index)]
    if not isinstance(old, nn.Linear) or not isinstance(container, nn.Sequential):
        raise ReprozooError(f"replace_head: {path} is {type(old).__name__} in {type(container).__name__}; "
                            "expected a Linear inside an nn.Sequential")
    container[int(index)] = nn.Sequential(nn.Linear(old.in_features, num_classes), nn.LogSoftmax(dim=1))
    return net


def vgg16(pretrained: bool) -> nn.Module:
    """torchvision's VGG16; ImageNet weights come from the torch hub cache (TORCH_HOME) or are downloaded."""
    import torchvision

    if not pretrained:
        return torchvision.models.vgg16(weights=None)
    weights = torchvision.models.VGG16_Weights.IMAGENET1K_V1
    try:
        return torchvision.models.vgg16(weights=weights)
    except Exception as err:  # URLError, HTTPError, hash mismatch: all mean "no weights here"
        raise ReprozooError(f"ImageNet VGG16 weights ({weights.url}) are not in the torch hub cache and could not "
                            f"be downloaded: {type(err).__name__}: {err}. Put the file under $TORCH_HOME/hub/"
                            "checkpoints, or use model_args.backbone: lenet-digits (the offline stand-in)") from None


def pretrain_digit_lenet(digits: list[int], epochs: int, seed: int) -> nn.Module:
    """Seed 004's LeNet trained (Adam 1e-3, batch 64) on MNIST-5k images of `digits`, rendered 3x32x32.

    Inputs are normalised with ImageNet's statistics, as the real backbone's are, so the
    transfer experiment keeps the same mean/std with either backbone.
    """
    from reprozoo.data.standin import mnist_rgb32
    from reprozoo.models.wrap import ImageClassifier
    from reprozoo.train import fit, make_optimizer

    images, labels = mnist_rgb32()
    keep = torch.isin(labels, torch.tensor(digits))
    train = {"images": images[keep], "labels": torch.searchsorted(torch.tensor(sorted(digits)), labels[keep])}
    none = {"images": images[:0], "labels": labels[:0]}
    torch.manual_seed(seed)
    net = create_model("lenet", (3, 32, 32), len(digits))
    model = ImageClassifier(net, IMAGENET_MEAN, IMAGENET_STD)
    optimizer = make_optimizer("adam", model.parameters(), 1e-3, {})
    fit(model, train, none, optimizer, "cross_entropy", epochs, 64, torch.Generator().manual_seed(seed),
        torch.device("cpu"))
    return net


@register_model
def frozen_transfer(input_shape: tuple[int, ...], num_classes: int, backbone: str = "vgg16-imagenet",
                    pretrain_digits: list[int] = tuple(range(8)), pretrain_epochs: int = 3,
                    pretrain_seed: int = 0) -> nn.Module:
    """A frozen pretrained backbone whose last layer is replaced by Linear(in, classes) + LogSoftmax.

    vgg16-imagenet: the seed's (classifier[6]); vgg16-random: the same net with random
    weights (tests); lenet-digits: the offline stand-in, pretrained here (pretrain_* args).
    """
    if backbone not in BACKBONES:
        raise ReprozooError(f"model_args.backbone: {backbone!r} is unknown; allowed: {', '.join(BACKBONES)}")
    if backbone == "lenet-digits":
        return replace_head(pretrain_digit_lenet(list(pretrain_digits), pretrain_epochs, pretrain_seed),
                            "head.4", num_classes)
    return replace_head(vgg16(backbone == "vgg16-imagenet"), "classifier.6", num_classes)
