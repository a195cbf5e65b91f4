"""Training as plain functions: data are tensors on the device, batches are index slices."""

from __future__ import annotations

import math
import time
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.training.cuda_graph import GraphedStep, can_graph
from reprozoo.training.distributed import shard, sum_over_ranks
from reprozoo.config.errors import ReprozooError

LOSSES = {"cross_entropy": F.cross_entropy, "nll": F.nll_loss}  # nll: the model ends in LogSoftmax


def as_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1], exactly what torchvision's ToTensor gives."""
    return images.float().div_(255)


def batch_indices(n: int, batch_size: int, generator: torch.Generator, device: torch.device) -> list[torch.Tensor]:
    """A seeded permutation of range(n) cut into batches (the last one may be short)."""
    order = torch.randperm(n, generator=generator).to(device)
    return list(order.split(batch_size))


def train_one_epoch(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, optimizer: torch.optim.Optimizer,
                    loss_fn: Callable, batch_size: int, generator: torch.Generator,
                    amp: bool = False, graphed: GraphedStep | None = None,
                    wrap_batches: Callable[[list], Iterable] = iter) -> dict[str, float]:
    """One pass over shuffled batches; returns mean loss and accuracy over the epoch.

    Nothing in the loop reads a value back to the host, so a GPU never waits on Python.
    wrap_batches: e.g. reprozoo.ledger.progress.Progress.batches, to show a bar over the batches.
    """
    model.train()
    autocast = torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp and images.device.type == "cuda")
    total_loss = torch.zeros((), device=images.device)
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    for idx in wrap_batches(batch_indices(len(labels), batch_size, generator, images.device)):
        idx = shard(idx)  # under torchrun this rank's part of the batch; else all of it
        x, y = as_input(images[idx]), labels[idx]
        if graphed is not None and len(idx) == batch_size:
            loss, scores = graphed(x, y)
            total_loss += loss.detach() * len(y)
            correct += (scores.argmax(1) == y).sum()
            continue
        last = {}

        def closure():  # every optimizer accepts one; LBFGS needs it to re-evaluate
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                scores = model(x)
                loss = loss_fn(scores.float(), y)
            loss.backward()
            last["scores"], last["loss"] = scores, loss
            return loss

        optimizer.step(closure)
        total_loss += last["loss"].detach() * len(y)
        correct += (last["scores"].argmax(1) == y).sum()
    sum_over_ranks(total_loss, correct)
    mean_loss = total_loss.item() / len(labels)
    if not math.isfinite(mean_loss):  # checked once an epoch: a per-step check would sync the GPU every step
        raise ReprozooError(f"training diverged: mean epoch loss is {mean_loss}; lower lr or check the data")
    return {"loss": mean_loss, "accuracy": correct.item() / len(labels)}


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class scores (N, classes) for uint8 images, in eval mode."""
    model.eval()
    return torch.cat([model(as_input(images[i:i + batch_size])) for i in range(0, len(images), batch_size)])


def score(scores: torch.Tensor, labels: torch.Tensor, loss_fn: Callable) -> dict[str, float]:
    """Mean loss and accuracy of class scores against labels."""
    return {"loss": loss_fn(scores, labels).item(), "accuracy": (scores.argmax(1) == labels).float().mean().item()}


def fit(model: nn.Module, train: dict, val: dict, optimizer: torch.optim.Optimizer, loss_name: str, epochs: int,
        batch_size: int, generator: torch.Generator, device: torch.device,
        on_epoch: Callable[[dict], None] = lambda row: None, amp: bool = False,
        cuda_graphs: bool = False, wrap_batches: Callable[[list], Iterable] = iter,
        history: list[dict] | None = None) -> list[dict]:
    """Train for `epochs`, evaluating on val after each; returns one row per epoch.

    On CUDA, `amp` runs forward passes in bf16 autocast and `cuda_graphs` replays each full-batch step
    as one captured graph; both are ignored on the CPU. wrap_batches: see train_one_epoch.

    `history`: the rows of epochs already done (a resumed checkpoint); training goes on after them.
    """
    loss_fn = LOSSES[loss_name]
    images, labels = train["images"].to(device), train["labels"].to(device)
    val_images, val_labels = val["images"].to(device), val["labels"].to(device)
    graphed = None
    if cuda_graphs and can_graph(optimizer, device) and len(labels) >= batch_size:
        graphed = GraphedStep(model, optimizer, loss_fn, as_input(images[:batch_size]), labels[:batch_size], amp)
    history = list(history or [])
    for epoch in range(len(history) + 1, epochs + 1):
        start = time.perf_counter()
        tr = train_one_epoch(model, images, labels, optimizer, loss_fn, batch_size, generator, amp, graphed,
                             wrap_batches)
        row = {"epoch": epoch, "train_loss": tr["loss"], "train_accuracy": tr["accuracy"]}
        if len(val_labels):  # no validation split (the seeds train on all 60k): training curves only
            va = score(predict(model, val_images), val_labels, loss_fn)
            row.update(val_loss=va["loss"], val_accuracy=va["accuracy"])
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        on_epoch(row)
    return history
