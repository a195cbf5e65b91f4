"""Pictures of results: confusion matrix, misclassified test images, t-SNE of features (matplotlib, no display)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # stages run headless
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def confusion_counts(labels: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> np.ndarray:
    """(actual, predicted) counts as a num_classes x num_classes array."""
    flat = labels.long() * num_classes + predicted.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes).numpy()


def per_class_accuracy(counts: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Each class's share of its test examples predicted right (a row of the confusion counts)."""
    return {c: round(float(counts[i, i] / max(counts[i].sum(), 1)), 4) for i, c in enumerate(classes)}


def confusion_rows(labels: torch.Tensor, predicted: torch.Tensor, classes: list[str]) -> list[tuple]:
    """(actual, predicted) class names per test example, header first: the CSV `dvc plots` draws as a matrix."""
    return [("actual", "predicted")] + [(classes[a], classes[b]) for a, b in zip(labels.tolist(), predicted.tolist())]


def confusion_figure(labels: torch.Tensor, predicted: torch.Tensor, classes: list[str], title: str) -> plt.Figure:
    """The confusion matrix with counts in the cells; rows are the actual class."""
    counts = confusion_counts(labels, predicted, len(classes))
    fig, ax = plt.subplots(figsize=(6, 5.4))
    ax.imshow(counts, cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8,
                    color="white" if n > counts.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title}: test accuracy {accuracy:.4f}", fontsize=10)
    fig.tight_layout()
    return fig


def misclassified_figure(images: torch.Tensor, labels: torch.Tensor, predicted: torch.Tensor, classes: list[str],
                         title: str, limit: int = 36) -> plt.Figure:
    """A grid of the first `limit` misclassified test images (uint8 (N, C, H, W)), 'actual -> predicted' above each."""
    wrong = (labels != predicted).nonzero().flatten()[:limit].tolist()
    cols = 9
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        img = images[i].permute(1, 2, 0).numpy()  # (H, W, C)
        ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray" if img.shape[2] == 1 else None)
        ax.set_title(f"{classes[labels[i]]} → {classes[predicted[i]]}", fontsize=8, color="firebrick")
    total = int((labels != predicted).sum())
    fig.suptitle(f"{title}: {len(wrong)} of {total} misclassified test images (actual → predicted)", fontsize=9)
    fig.tight_layout()
    return fig


def tsne_figure(embedding: np.ndarray, labels: np.ndarray, classes: list[str], title: str) -> plt.Figure:
    """2-D points coloured by class, each drawn as its class name (as seed 003 draws them)."""
    fig, ax = plt.subplots(figsize=(6.5, 6))
    colors = plt.get_cmap("tab10")
    for (x, y), label in zip(embedding, labels):
        ax.text(x, y, classes[label], color=colors(int(label) % 10), fontsize=8, ha="center", va="center")
    pad = 0.05 * (embedding.max(0) - embedding.min(0))
    ax.set_xlim(embedding[:, 0].min() - pad[0], embedding[:, 0].max() + pad[0])
    ax.set_ylim(embedding[:, 1].min() - pad[1], embedding[:, 1].max() + pad[1])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


@torch.no_grad()
def last_layer_features(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """The input of the model's last nn.Linear for uint8 images: the flattened features seed 003 embeds."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError("model has no nn.Linear layer to take features from")
    captured = []
    handle = linears[-1].register_forward_hook(lambda module, inputs, output: captured.append(inputs[0]))
    try:
        model.eval()
        model(images.float().div(255))
    finally:
        handle.remove()
    return captured[0].flatten(1).numpy()


def tsne_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """scikit-learn's t-SNE to 2-D with seed 003's settings (perplexity 30, PCA init), seeded."""
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, perplexity=30, init="pca", random_state=seed).fit_transform(features)
