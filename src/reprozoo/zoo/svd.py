"""Seed 004's image compression by truncated SVD of the H x 3W matrix of an RGB photo."""

from __future__ import annotations

import numpy as np


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
