"""Transfer learning (seed 004): a pretrained net, every weight frozen, its last layer replaced and trained.

The seed takes torchvision's ImageNet VGG16, freezes it, and swaps classifier[6]
(Linear(4096, 1000)) for Linear(4096, 2) + LogSoftmax. ImageNet weights and the
cats-vs-dogs photos cannot be fetched offline, so the default run uses a stand-in
backbone: seed 004's LeNet, pretrained by the pipeline's `backbone` stage on the CIFAR stand-in's
digits 0-7, frozen, with its last layer replaced the same way.
"""

from __future__ import annotations

import torch
from torch import nn

from reprozoo import ROOT
from reprozoo.config.errors import ReprozooError
from reprozoo.models.registry import create_model, register_model

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
BACKBONE_DIR = ROOT / "models" / "backbones"


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


def pretrained(name: str) -> nn.Module:
    """A backbone the `backbone` stage pretrained (models/backbones/<name>.pt), as timm loads weights."""
    path = BACKBONE_DIR / f"{name}.pt"
    if not path.exists():
        raise ReprozooError(f"model_args.backbone: {name!r}: {path} is missing; allowed: vgg16-imagenet, "
                            f"vgg16-random, or a name under params.yaml backbones, made by: dvc repro backbone@{name}")
    saved = torch.load(path, weights_only=True)
    net = create_model(saved["model"], tuple(saved["input_shape"]), saved["num_classes"])
    net.load_state_dict(saved["state_dict"])
    return net


@register_model
def frozen_transfer(input_shape: tuple[int, ...], num_classes: int, backbone: str = "vgg16-imagenet") -> nn.Module:
    """A frozen pretrained backbone whose last layer is replaced by Linear(in, classes) + LogSoftmax.

    vgg16-imagenet: the seed's (classifier[6]); vgg16-random: the same net with random weights
    (tests); any other name: a LeNet of params.yaml's `backbones`, pretrained by its own stage.
    """
    if backbone in ("vgg16-imagenet", "vgg16-random"):
        return replace_head(vgg16(backbone == "vgg16-imagenet"), "classifier.6", num_classes)
    return replace_head(pretrained(backbone), "head.4", num_classes)
