"""Probes of a trained image classifier: seed 000's forward hook on its RNN, seed 003's t-SNE picture.

activations: the hooked RNN's outputs for the first test batch, in the seed's (steps, batch, hidden)
layout. tsne: the input of the classifier's last nn.Linear for a seeded mix of test images, embedded
in 2-D by scikit-learn's t-SNE with the seed's settings.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from reprozoo.data.files import read_json
from reprozoo.training.figures import last_layer_features, tsne_2d, tsne_figure
from reprozoo.config.params import Count, Experiment
from reprozoo.data.record import split_data
from reprozoo.tasks import Context, Data, Result, Task, register
from reprozoo.tasks.image_classifier import load_trained


class Params(Experiment):
    method: Literal["activations", "tsne"]  # seed 000's forward hook; seed 003's t-SNE picture
    of: str  # the image_classifier experiment whose trained model is probed
    samples: Count = 128  # activations: the first test batch; tsne: a seeded mix of test images


class SaveFeatures:
    """Seed 000's hook: keeps a module's forward output; close() removes the hook."""

    def __init__(self, module: nn.Module):
        self.features: torch.Tensor | None = None
        self.hook = module.register_forward_hook(self.hook_fn)

    def hook_fn(self, module: nn.Module, inputs: tuple, output) -> None:
        out = output[0] if isinstance(output, tuple) else output  # nn.RNN returns (outputs, h_n)
        self.features = out.detach()

    def close(self) -> None:
        self.hook.remove()


@torch.no_grad()
def capture_rnn_outputs(model: nn.Module, rnn: nn.RNNBase, images: torch.Tensor) -> torch.Tensor:
    """Run `model` on images with a hook on `rnn`; its outputs as (steps, batch, hidden).

    The seed's RNN is sequence-first, so its hook sees (28, batch, 150). Ours is batch_first and
    yields (batch, 28, 150); transposing the first two axes gives the seed's layout.
    """
    saver = SaveFeatures(rnn)
    try:
        model.eval()
        model(images)
    finally:
        saver.close()
    out = saver.features
    return out.transpose(0, 1).contiguous() if rnn.batch_first else out


def knn_accuracy(points: torch.Tensor, labels: torch.Tensor, k: int = 5) -> float:
    """Leave-one-out k-nearest-neighbour accuracy in the embedding: how far the classes stand apart."""
    distances = torch.cdist(points, points).fill_diagonal_(float("inf"))
    votes = labels[distances.topk(k, largest=False).indices]
    return (votes.mode(1).values == labels).float().mean().item()


def activations(ctx: Context, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Result:
    """Seed 000: the last RNN layer's outputs for one test batch."""
    import matplotlib.pyplot as plt

    acts = capture_rnn_outputs(model, model.net.rnn, images.float().div(255))  # (steps, batch, hidden)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    im = ax1.imshow(acts.abs().mean(1).T, aspect="auto", cmap="viridis")
    ax1.set(xlabel="time step (image row)", ylabel="hidden unit", title=f"mean |activation| over {acts.shape[1]} "
            "test images")
    fig.colorbar(im, ax=ax1)
    im = ax2.imshow(acts[:, 0].T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
    ax2.set(xlabel="time step (image row)", ylabel="hidden unit", title=f"first test image (label {int(labels[0])})")
    fig.colorbar(im, ax=ax2)
    fig.suptitle(f"{ctx.params.of}: last RNN layer's outputs, shape {tuple(acts.shape)}")
    steps, batch, hidden = acts.shape
    return Result(
        metrics={"steps": steps, "batch": batch, "hidden": hidden, "mean": acts.mean().item(), "std": acts.std().item(),
                 "mean_abs": acts.abs().mean().item(),
                 "saturated_fraction": (acts.abs() > 0.99).float().mean().item()},  # tanh near +-1
        main_metric="activation_shape",
        info={"activation_shape": f"{steps}x{batch}x{hidden}", "hooked_module": "net.rnn",
              "layout": "(steps, batch, hidden): our batch_first (batch, steps, hidden) output transposed",
              "mean_abs_by_step": [round(v, 5) for v in acts.abs().mean((1, 2)).tolist()]},
        figures={"activations_heatmap": fig},
        tensors={"activations": {"activations": acts, "labels": labels}},
    )


def tsne(ctx: Context, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> Result:
    """Seed 003: t-SNE of the last layer's input features."""
    features = last_layer_features(model, images)
    embedding = tsne_2d(features, seed=ctx.params.seed)
    title = f"{ctx.params.of}: t-SNE of last-layer features ({features.shape[1]}-d), {len(labels)} test images"
    return Result(
        metrics={"samples": len(labels), "feature_dims": features.shape[1],
                 "knn5_accuracy_2d": knn_accuracy(torch.from_numpy(embedding), labels)},
        main_metric="knn5_accuracy_2d",
        figures={"tsne": tsne_figure(embedding, labels.numpy(), classes, title)},
    )


@register
class ProbeTask(Task):
    kind = "probe"
    reads = ("image_classifier",)
    params_model = Params
    tiny = True

    def load(self, ctx: Context) -> Data:
        _, trained = ctx.project.experiment(ctx.params.of)
        data = split_data(trained.dataset)
        data.parts["trained"] = trained
        return data

    def evaluate(self, ctx: Context, data: Data) -> Result:
        p, split = ctx.params, data.parts["split"]
        model_dir = ctx.model_dir.parent / p.of
        model = load_trained(model_dir, data.parts["trained"], split.manifest)
        hooked = read_json(model_dir / "run.json", f"dvc repro train@{p.of}")
        ctx.log_params({"hooked_experiment": p.of, "hooked_run_id": hooked["mlflow_run_id"]})
        images, labels = split.test["images"], split.test["labels"]
        if p.method == "activations":  # the seed's first test batch
            result = activations(ctx, model, images[:p.samples], labels[:p.samples])
        else:  # the seed takes the official test set's first 500; a carved test split (embedded data) is
            # stored class by class, so there a seeded sample keeps the classes mixed
            official = split.manifest.get("test_fraction") is None
            pick = torch.arange(min(p.samples, len(labels))) if official else \
                torch.randperm(len(labels), generator=torch.Generator().manual_seed(p.seed))[:p.samples]
            result = tsne(ctx, model, images[pick], labels[pick], split.manifest["classes"])
        result.info["hooked_run_id"] = hooked["mlflow_run_id"]
        return result
