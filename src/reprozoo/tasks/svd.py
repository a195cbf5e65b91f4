"""Seed 004's image compression by truncated SVD of an RGB photo, at each rank k in params.

The seed reshapes the H x W x 3 photo to one H x 3W matrix, keeps its top k singular triplets and
shows the reconstruction. Nothing trains: the figures are each k's PSNR, relative error, the
storage it saves and the share of the squared singular values it keeps (the seed: visually
near-lossless at k = 120).
"""

from __future__ import annotations

from typing import Annotated, Literal, TYPE_CHECKING

from pydantic import Field
import numpy as np

from reprozoo.data.files import sha256_tensors
from reprozoo.config.params import Count, Experiment
from reprozoo.tasks import Context, Data, Result, Task, register


if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure


class Params(Experiment):
    image: Literal["china.jpg", "flower.jpg"] = "china.jpg"  # scikit-learn's sample photos
    ranks: Annotated[list[Count], Field(min_length=1)] = [60, 120]


def load_sample_image(name: str) -> np.ndarray:
    """scikit-learn's bundled photo (china.jpg: 427 x 640 x 3 uint8)."""
    from sklearn.datasets import load_sample_image as sk_load

    return sk_load(name)


def svd_compress(image: np.ndarray, ranks: list[int]) -> dict[int, dict]:
    """Reconstruct with the top-k singular values for each k; errors, PSNR and storage ratio per k.

    The seed reshapes H x W x 3 to H x 3W (the three colour planes side by side per row) and
    decomposes that one matrix; k singular triplets store k (H + 3W + 1) numbers instead of H * 3W.
    """
    h, w, c = image.shape
    a = image.reshape(h, w * c).astype(np.float64)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    out = {}
    for k in ranks:
        k_eff = min(k, len(s))
        approx = (u[:, :k_eff] * s[:k_eff]) @ vt[:k_eff]
        pixels = np.clip(np.rint(approx), 0, 255).astype(np.uint8)
        mse = float(np.mean((pixels.astype(np.float64) - a) ** 2))
        out[k] = {
            "image": pixels.reshape(h, w, c),
            "relative_frobenius_error": float(np.linalg.norm(a - approx) / np.linalg.norm(a)),
            "psnr_db": float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else float("inf"),
            "compression_ratio": float(a.size / (k_eff * (h + w * c + 1))),
            "energy_kept": float((s[:k_eff] ** 2).sum() / (s ** 2).sum()),
        }
    return out


def reconstructions_figure(image: np.ndarray, recon: dict[int, dict], ranks: list[int]) -> Figure:
    """The original beside each rank's reconstruction, titled with its PSNR and storage ratio."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ranks) + 1, figsize=(5 * (len(ranks) + 1), 4))
    axes[0].imshow(image)
    axes[0].set_title(f"original {image.shape[0]}x{image.shape[1]}")
    for ax, k in zip(axes[1:], ranks):
        r = recon[k]
        ax.imshow(r["image"])
        ax.set_title(f"k = {k}: PSNR {r['psnr_db']:.1f} dB, {r['compression_ratio']:.1f}x smaller")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def full_size_figure(pixels: np.ndarray) -> Figure:
    """One reconstruction alone, pixel for pixel (saved at 100 dpi: one figure inch is 100 pixels)."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(pixels.shape[1] / 100, pixels.shape[0] / 100))
    fig.figimage(pixels)
    return fig


@register
class SvdTask(Task):
    """Seed 004's truncated-SVD compression of one photo; nothing trains."""

    kind = "svd"
    params_model = Params
    # numpy on the CPU: no torch kernel for the determinism switch to guard (its import alone is ~3 s),
    # and no GPU to name in run.json's device.
    tiny = True
    trains = False

    def load(self, ctx: Context) -> Data:
        import sklearn
        import torch

        name = ctx.params.image
        image = load_sample_image(name)
        return Data(name, "embedded", sha256_tensors({"image": torch.from_numpy(image.copy())}),
                    f"scikit-learn {sklearn.__version__} load_sample_image({name!r})", {"image": image})

    def evaluate(self, ctx: Context, data: Data) -> Result:
        ranks, image = ctx.params.ranks, data.parts["image"]
        recon = svd_compress(image, ranks)
        metrics = {f"{m}_k{k}": recon[k][m] for k in ranks
                   for m in ("psnr_db", "relative_frobenius_error", "compression_ratio", "energy_kept")}
        return Result(
            metrics=metrics,
            main_metric=f"psnr_db_k{max(ranks)}",
            info={"shape": list(image.shape), "matrix_shape": [image.shape[0], image.shape[1] * image.shape[2]]},
            figures={"reconstructions": reconstructions_figure(image, recon, ranks),
                     **{f"reconstruction_k{k}": full_size_figure(recon[k]["image"]) for k in ranks}},
        )
