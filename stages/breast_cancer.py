"""breast-cancer@<name>: seed 002's 30-25-20-15-10-5-1 MLP on scikit-learn's breast-cancer data."""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.errors import run_main
from reprozoo.zoo.common import Timer, data_record, log_series, mlflow_run, save_figure, start, write_metrics, \
    zoo_params
from reprozoo.zoo.tabular import DeepMLP, evaluate_binary, fit_mlp, load_breast_cancer, split_tabular


def main() -> None:
    import matplotlib.pyplot as plt
    import mlflow
    import sklearn

    name = sys.argv[1]
    params, p = zoo_params("breast_cancer", name)
    start(params, p.seed)
    x, y, classes = load_breast_cancer()
    parts = split_tabular(x, y, p.val_fraction, p.test_fraction, p.seed, p.standardise)
    data = data_record("breast-cancer", "embedded", {"x": x, "y": y},
                       source_note=f"scikit-learn {sklearn.__version__} load_breast_cancer (569 x 30)",
                       classes=classes, counts={k: len(v[1]) for k, v in parts.items()})
    model = DeepMLP(x.shape[1], p.hidden, p.activations)
    with mlflow_run(name, p.reproduces, data, f"breast-cancer@{name}", p) as run:
        timer = Timer()
        history = fit_mlp(model, parts["train"], parts["val"], p.optimizer, p.lr, p.optimizer_args, p.epochs)
        seconds = timer.seconds()
        for key in ("train_loss", "val_loss", "val_accuracy"):
            log_series(key, [r[key] for r in history], start_step=history[0]["epoch"])
        test = evaluate_binary(model, *parts["test"])
        majority = max(parts["test"][1].float().mean().item(), 1 - parts["test"][1].float().mean().item())
        # A stalled net outputs (nearly) one probability for every tumour: one class predicted throughout.
        stalled = test["predicted_positive_fraction"] in (0.0, 1.0)
        mlflow.log_metrics({f"test_{k}": v for k, v in test.items()})
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        epochs = [r["epoch"] for r in history]
        ax1.plot(epochs, [r["train_loss"] for r in history], label="train")
        ax1.plot(epochs, [r["val_loss"] for r in history], label="val")
        ax1.set(xlabel="epoch", ylabel="BCE", title="loss")
        ax1.legend()
        ax2.plot(epochs, [r["val_accuracy"] for r in history], label="val accuracy")
        ax2.axhline(majority, color="r", linestyle=":", label=f"majority class {majority:.3f}")
        ax2.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
                title=f"{'-'.join(map(str, [x.shape[1], *p.hidden, 1]))} ({', '.join(p.activations)})")
        ax2.legend()
        fig.suptitle(f"{name}: test accuracy {test['accuracy']:.3f}" + (" - STALLED at one class" if stalled else ""))
        figure = save_figure(fig, ROOT / "plots" / name / "training.png")
        results = {
            "test_accuracy": round(test["accuracy"], 6), "test_precision": round(test["precision"], 6),
            "test_recall": round(test["recall"], 6), "test_loss": round(test["loss"], 6),
            "positive_class": classes[1], "majority_class_accuracy": round(majority, 6), "stalled": stalled,
            "val_accuracy": round(history[-1]["val_accuracy"], 6), "epochs": p.epochs,
            "train_samples": len(parts["train"][1]), "test_samples": len(parts["test"][1]),
        }
        write_metrics(name, p, data, results, figure, run.info.run_id, seconds, "test_accuracy")
    print(f"{name}: test accuracy {test['accuracy']:.4f} precision {test['precision']:.4f} recall "
          f"{test['recall']:.4f} (majority class {majority:.4f}{', stalled' if stalled else ''}) in {seconds:.1f}s")


if __name__ == "__main__":
    run_main(main)
