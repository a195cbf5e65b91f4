"""svd-compression@<name>: seed 004's truncated-SVD compression of scikit-learn's china.jpg."""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.errors import run_main
from reprozoo.zoo.common import Timer, data_record, mlflow_run, save_figure, start, write_metrics, zoo_params
from reprozoo.zoo.svd import load_sample_image, svd_compress


def main() -> None:
    import matplotlib.pyplot as plt
    import mlflow
    import sklearn
    import torch

    name = sys.argv[1]
    params, p = zoo_params("svd", name)
    start(params, 0)
    image = load_sample_image(p.image)
    data = data_record(p.image, "embedded", {"image": torch.from_numpy(image.copy())},
                       source_note=f"scikit-learn {sklearn.__version__} load_sample_image({p.image!r})",
                       shape=list(image.shape))
    with mlflow_run(name, p.reproduces, data, f"svd-compression@{name}", p) as run:
        timer = Timer()
        recon = svd_compress(image, p.ranks)
        seconds = timer.seconds()
        fig, axes = plt.subplots(1, len(p.ranks) + 1, figsize=(5 * (len(p.ranks) + 1), 4))
        axes[0].imshow(image)
        axes[0].set_title(f"original {image.shape[0]}x{image.shape[1]}")
        for ax, k in zip(axes[1:], p.ranks):
            r = recon[k]
            ax.imshow(r["image"])
            ax.set_title(f"k = {k}: PSNR {r['psnr_db']:.1f} dB, {r['compression_ratio']:.1f}x smaller")
        for ax in axes:
            ax.axis("off")
        fig.tight_layout()
        figure = save_figure(fig, ROOT / "plots" / name / "reconstructions.png")
        for k in p.ranks:  # each reconstruction alone, full size, in the plots and the run
            single = plt.figure(figsize=(image.shape[1] / 100, image.shape[0] / 100))
            single.figimage(recon[k]["image"])
            save_figure(single, ROOT / "plots" / name / f"reconstruction_k{k}.png")
            mlflow.log_metrics({f"psnr_db_k{k}": recon[k]["psnr_db"],
                                f"relative_frobenius_error_k{k}": recon[k]["relative_frobenius_error"],
                                f"compression_ratio_k{k}": recon[k]["compression_ratio"]})
        results = {"per_k": {str(k): {m: round(v, 6) for m, v in recon[k].items() if m != "image"} for k in p.ranks},
                   "matrix_shape": [image.shape[0], image.shape[1] * image.shape[2]]}
        results[f"psnr_db_k{max(p.ranks)}"] = round(recon[max(p.ranks)]["psnr_db"], 4)
        write_metrics(name, p, data, results, figure, run.info.run_id, seconds, f"psnr_db_k{max(p.ranks)}")
    print(f"{name}: " + "; ".join(f"k={k}: PSNR {recon[k]['psnr_db']:.2f} dB, rel. error "
                                  f"{recon[k]['relative_frobenius_error']:.4f}, {recon[k]['compression_ratio']:.2f}x"
                                  for k in p.ranks))


if __name__ == "__main__":
    run_main(main)
