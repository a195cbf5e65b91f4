"""Image classifiers (seeds 000-004): a registered net, its seed's recipe, scored on the test split.

train: fit on the split's train part (val after each epoch when there is one), resumable, and
keep the net as a self-describing MLflow model in models/<name>/ (normalisation and any pixel
permutation inside, so it takes [0, 1] pixels). evaluate: score that saved model, as a user would
load it, on the test part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional

import torch

from reprozoo.training import checkpoint, distributed, exported
from reprozoo.training.figures import (confusion_counts, confusion_figure, confusion_rows, misclassified_figure,
                                       per_class_accuracy)
from reprozoo.models import create_model
from reprozoo.models.wrap import ImageClassifier, pixel_permutation
from reprozoo.config.params import Count, Experiment, Optimizer, Positive
from reprozoo.data.record import split_data
from reprozoo.tasks import Context, Data, Result, Task, register
from reprozoo.training.optim import make_optimizer
from reprozoo.training.loop import LOSSES, as_input, fit, predict, score


class Params(Experiment):
    dataset: Literal["mnist", "fashion_mnist", "cifar10", "cats_dogs"]
    model: str  # a name in reprozoo.models' registry, checked when the model is built
    model_args: dict = {}
    optimizer: Optimizer
    optimizer_args: dict = {}  # momentum, weight_decay: passed as given
    lr: Positive
    batch_size: Count
    epochs: Count
    loss: Literal["cross_entropy", "nll"] = "cross_entropy"  # nll: the net ends in LogSoftmax
    mean: Optional[list[float]] = None  # the seed's Normalize after ToTensor; null: none
    std: Optional[list[float]] = None
    permute_pixels: bool = False  # seed 004: one fixed permutation from `seed`, kept inside the model


def build(p: Params, manifest: dict) -> ImageClassifier:
    """The experiment's registered net for the split's image shape and classes, normalisation inside."""
    shape = tuple(manifest["image_shape"])
    net = create_model(p.model, shape, len(manifest["classes"]), **p.model_args)
    mean = p.mean if p.mean is not None else [0.0] * shape[0]  # None: the seed feeds ToTensor's [0, 1]
    std = p.std if p.std is not None else [1.0] * shape[0]
    order = pixel_permutation(shape, p.seed) if p.permute_pixels else None
    return ImageClassifier(net, mean, std, order)


def metadata(name: str, p: Params, data: Data) -> dict:
    """What MLmodel's metadata records, so the saved model explains itself."""
    m = data.parts["split"].manifest
    return {
        "reprozoo_experiment": name, "reproduces": p.reproduces, "architecture": p.model,
        "model_args": json.dumps(p.model_args, sort_keys=True),
        "input": "float32 (N, C, H, W) in [0, 1], as torchvision's ToTensor gives; normalisation is inside",
        "input_shape": list(m["image_shape"]), "classes": m["classes"],
        "output": "(N, classes) scores" + (" (log-probabilities)" if p.loss == "nll" else " (logits)"),
        **data.record(),
        "pixel_permutation": "fixed, from the experiment seed, applied inside the model" if p.permute_pixels
                             else "none",
        "params": p.model_dump_json(),
    }


def load_trained(model_dir: Path, p: Params, manifest: dict) -> ImageClassifier:
    """A trained classifier as nn.Modules (to hook), from the torch.export program saved in model_dir.

    The exported program has no modules to hook, so the net is rebuilt from params and given its weights.
    """
    model = build(p, manifest)
    model.load_state_dict(exported.load_module(model_dir, f"train@{model_dir.name}").state_dict())
    return model.eval()


@register
class ImageClassifierTask(Task):
    kind = "image_classifier"
    params_model = Params
    separate_evaluate = True

    def load(self, ctx: Context) -> Data:
        return split_data(ctx.params.dataset)

    def train(self, ctx: Context, data: Data) -> None:
        p, split, rt = ctx.params, data.parts["split"], ctx.project.runtime
        generator = torch.Generator().manual_seed(p.seed)  # batch order, apart from the weights' RNG
        model = build(p, split.manifest).to(ctx.device)
        trainable = [w for w in model.parameters() if w.requires_grad]  # a frozen backbone stays out
        optimizer = make_optimizer(p.optimizer, trainable, p.lr, p.optimizer_args)
        if ctx.resumed:
            checkpoint.restore(ctx.resumed, model, optimizer, generator)
        ctx.log_params({"trainable_parameters": sum(w.numel() for w in trainable),
                        "frozen_parameters": sum(w.numel() for w in model.parameters() if not w.requires_grad)})

        def on_epoch(row: dict) -> None:
            ctx.log_epoch(row, lambda: checkpoint.capture(model, optimizer, generator))

        # Not graphed under DistributedDataParallel: its gradient all-reduce is outside a captured step.
        fit(distributed.wrap(model, ctx.device), split.train, split.val, optimizer, p.loss, p.epochs, p.batch_size,
            generator, ctx.device, on_epoch, amp=rt.amp, cuda_graphs=rt.cuda_graphs and not distributed.active(),
            wrap_batches=ctx.batches, history=ctx.history)
        self.model = model  # for a spread run, which scores it without saving
        ctx.save_model(model, as_input(split.train["images"][:2]), metadata(ctx.name, p, data))

    def evaluate(self, ctx: Context, data: Data) -> Result:
        p, split = ctx.params, data.parts["split"]
        classes = split.manifest["classes"]
        images, labels = split.test["images"], split.test["labels"]
        if hasattr(self, "model"):  # trained in this process (a spread run)
            scores = predict(self.model.to("cpu"), images)
        else:  # the saved artifact itself, as a user of the model loads it
            scores = torch.from_numpy(ctx.load_model().predict(as_input(images).numpy()))
        result = score(scores, labels, LOSSES[p.loss])
        predicted = scores.argmax(1)
        per_class = per_class_accuracy(confusion_counts(labels, predicted, len(classes)), classes)
        return Result(
            metrics={"test_accuracy": result["accuracy"], "test_loss": result["loss"], "test_samples": len(labels),
                     "train_samples": len(split.train["labels"])},
            main_metric="test_accuracy",
            info={"classes": classes, "per_class_accuracy": per_class, "model": p.model,
                  "permute_pixels": p.permute_pixels},
            figures={"confusion": confusion_figure(labels, predicted, classes, ctx.name),
                     "misclassified": misclassified_figure(images, labels, predicted, classes, ctx.name)},
            tables={"confusion": confusion_rows(labels, predicted, classes)},
        )

