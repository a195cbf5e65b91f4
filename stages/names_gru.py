"""names-gru@<name>: seed 002's GRU name -> country classifier on data/raw/names/."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys

from reprozoo import ROOT
from reprozoo.data.files import atomic_write, save_tensors, sha256_file
from reprozoo.data.names import read_pairs_csv
from reprozoo.errors import ReprozooError, run_main
from reprozoo.zoo.common import Timer, log_series, mlflow_run, save_figure, start, write_metrics, zoo_params


def load_names() -> tuple[dict, dict]:
    """Train/test (codes, lengths, labels) from the download stage, checked against its manifest."""
    import torch

    from reprozoo.zoo.names_gru import encode_names

    folder = ROOT / "data" / "raw" / "names"
    if not (folder / "manifest.json").exists():
        raise ReprozooError(f"{folder / 'manifest.json'}: missing; create it with: dvc repro names-download")
    manifest = json.loads((folder / "manifest.json").read_text())
    parts = {}
    for part in ("train", "test"):
        path = folder / f"{part}.csv"
        if sha256_file(path) != manifest["files"][f"{part}.csv"]:
            raise ReprozooError(f"{path}: checksum does not match the manifest; recreate it with: "
                                f"dvc repro --force names-download")
        pairs = read_pairs_csv(path)
        unknown = sorted({c for _, c in pairs} - set(manifest["classes"]))
        if unknown:
            raise ReprozooError(f"{path}: country {unknown[0]!r} is not among the manifest's classes")
        codes, lengths = encode_names([n for n, _ in pairs])
        parts[part] = {"codes": codes, "lengths": lengths,
                       "labels": torch.tensor([manifest["classes"].index(c) for _, c in pairs])}
    return parts, manifest


def main() -> None:
    import matplotlib.pyplot as plt
    import mlflow
    import torch

    from reprozoo.train import make_optimizer
    from reprozoo.zoo.names_gru import make_names_model, score_names, topk_accuracy, train_names_epoch

    name = sys.argv[1]
    params, p = zoo_params("names_gru", name)
    start(params, p.seed)
    parts, manifest = load_names()
    classes = manifest["classes"]
    data = {"dataset": "names", "source": manifest["source"], "data_sha256": manifest["data_sha256"],
            "source_files": manifest["source_files"], "source_note": manifest["source_note"]}
    config = {"classes": classes, "hidden_size": p.hidden_size, "num_layers": p.num_layers,
              "bidirectional": p.bidirectional}
    generator = torch.Generator().manual_seed(p.seed)
    model = make_names_model(config)
    optimizer = make_optimizer(p.optimizer, model.parameters(), p.lr, {})
    train, test = parts["train"], parts["test"]
    with mlflow_run(name, p.reproduces, data, f"names-gru@{name}", p) as run:
        timer = Timer()
        history = []
        for epoch in range(1, p.epochs + 1):
            loss = train_names_epoch(model, train["codes"], train["lengths"], train["labels"], optimizer,
                                     p.batch_size, generator)
            scores = score_names(model, test["codes"], test["lengths"])
            # Test accuracy per epoch, as the seed prints it (there is no validation split in the seed).
            history.append({"epoch": epoch, "train_loss": loss,
                            "test_accuracy": (scores.argmax(1) == test["labels"]).float().mean().item()})
        seconds = timer.seconds()
        for key in ("train_loss", "test_accuracy"):
            log_series(key, [r[key] for r in history])
        predicted = scores.argmax(1)
        accuracy, top3 = history[-1]["test_accuracy"], topk_accuracy(scores, test["labels"], 3)
        n = len(classes)
        confusion = torch.bincount(test["labels"] * n + predicted, minlength=n * n).view(n, n)  # rows: actual
        per_class = {c: round(confusion[i, i].item() / max(confusion[i].sum().item(), 1), 4)
                     for i, c in enumerate(classes)}
        mlflow.log_metrics({"test_accuracy": accuracy, "test_top3_accuracy": top3})

        out = ROOT / "models" / name
        save_tensors(out / "model.pt", {"config": config, "state_dict": model.state_dict()})
        mlflow.log_artifact(str(out / "model.pt"), artifact_path="model")

        def write_confusion(path):
            with open(path, "w", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(["actual", "predicted"])
                writer.writerows((classes[a], classes[b]) for a, b in zip(test["labels"].tolist(), predicted.tolist()))

        atomic_write(ROOT / "plots" / name / "confusion.csv", write_confusion)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [1, 1.3]})
        ax1.plot([r["epoch"] for r in history], [r["test_accuracy"] for r in history])
        ax1.set(xlabel="epoch", ylabel="test accuracy", title=f"{name}: test accuracy per epoch "
                f"(final {accuracy:.3f}, top-3 {top3:.3f})")
        ax1.grid(True)
        rates = confusion.float() / confusion.sum(1, keepdim=True).clamp(min=1)
        ax2.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        ax2.set_xticks(range(n), classes, rotation=90, fontsize=7)
        ax2.set_yticks(range(n), classes, fontsize=7)
        ax2.set(xlabel="predicted", ylabel="actual", title="confusion (row-normalised)")
        fig.tight_layout()
        figure = save_figure(fig, ROOT / "plots" / name / "accuracy_confusion.png")
        results = {
            "test_accuracy": round(accuracy, 6), "test_top3_accuracy": round(top3, 6),
            "per_class_accuracy": per_class, "confusion": confusion.tolist(), "classes": classes,
            "test_accuracy_by_epoch": [round(r["test_accuracy"], 4) for r in history],
            "chance_accuracy": round(1 / n, 4), "epochs": p.epochs, "train_samples": len(train["labels"]),
            "test_samples": len(test["labels"]), "params": dataclasses.asdict(p),
        }
        write_metrics(name, p, data, results, figure, run.info.run_id, seconds, "test_accuracy")
    print(f"{name}: test accuracy {accuracy:.4f}, top-3 {top3:.4f} over {n} countries after {p.epochs} epochs "
          f"({seconds:.1f}s)")


if __name__ == "__main__":
    run_main(main)
