"""Backbones pretrained by their own stage (params.yaml `backbones`), for transfer models to load frozen.

The offline stand-in for seed 004's ImageNet VGG16 is its LeNet trained on some classes of a
dataset's training split; the transfer experiment then learns a new head on classes it never saw
labelled. The file carries the architecture, its arguments and the weights, so it rebuilds alone.
"""

from __future__ import annotations

import torch

from reprozoo import ROOT
from reprozoo.data.files import save_tensors
from reprozoo.data.split import load_split
from reprozoo.config.errors import ReprozooError
from reprozoo.models import create_model
from reprozoo.models import transfer
from reprozoo.models.transfer import IMAGENET_MEAN, IMAGENET_STD
from reprozoo.models.wrap import ImageClassifier
from reprozoo.config.params import Backbone
from reprozoo.training.optim import make_optimizer
from reprozoo.training.loop import fit


def pretrain(name: str, b: Backbone) -> dict:
    """Train backbone `name` and save it to models/backbones/<name>.pt; returns what was saved, weights aside."""
    split = load_split(ROOT / "data" / "splits" / b.dataset, b.dataset, ("train",))
    images, labels = split.train["images"], split.train["labels"]
    n_classes = len(split.manifest["classes"])
    bad = [c for c in b.classes if not 0 <= c < n_classes]
    if bad:
        raise ReprozooError(f"params.yaml: backbones.{name}.classes: {bad}; allowed: 0 to {n_classes - 1}")
    keep = torch.isin(labels, torch.tensor(b.classes))
    # Inputs normalised with ImageNet's statistics, as the real backbone's are, so the transfer
    # experiment keeps the same mean/std with either backbone.
    train = {"images": images[keep], "labels": torch.searchsorted(torch.tensor(sorted(b.classes)), labels[keep])}
    none = {"images": images[:0], "labels": labels[:0]}
    torch.manual_seed(b.seed)
    shape = tuple(split.manifest["image_shape"])
    net = create_model(b.model, shape, len(b.classes))
    optimizer = make_optimizer("adam", net.parameters(), b.lr, {})
    history = fit(ImageClassifier(net, IMAGENET_MEAN, IMAGENET_STD), train, none, optimizer, "cross_entropy",
                  b.epochs, b.batch_size, torch.Generator().manual_seed(b.seed), torch.device("cpu"))
    saved = {"model": b.model, "input_shape": list(shape), "num_classes": len(b.classes),
             "classes": [split.manifest["classes"][c] for c in sorted(b.classes)], "dataset": b.dataset,
             "data_sha256": split.manifest["data_sha256"], "train_accuracy": history[-1]["train_accuracy"]}
    save_tensors(transfer.BACKBONE_DIR / f"{name}.pt", {**saved, "state_dict": net.state_dict()})
    return saved
