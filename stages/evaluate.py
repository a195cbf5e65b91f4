"""evaluate@<experiment>: score the saved MLflow model on the test split; write metrics/<experiment>.json."""

from __future__ import annotations

import csv
import sys

import torch

from reprozoo import ROOT
from reprozoo.catalogue import CATALOGUE
from reprozoo.data.files import atomic_write, read_json, write_json
from reprozoo.data.split import load_split
from reprozoo.errors import ReprozooError, run_main
from reprozoo.figures import confusion_figure, misclassified_figure, save_png
from reprozoo.params import experiment, load_params
from reprozoo.runtime import configure
from reprozoo.tracking import use_store, with_retries
from reprozoo.train import LOSSES, as_input, score


def main() -> None:
    import mlflow.pyfunc
    from mlflow.tracking import MlflowClient

    name = sys.argv[1]
    params = load_params()
    exp = experiment(params, name)
    configure("cpu", params.runtime.threads, params.runtime.deterministic)
    split = load_split(ROOT / "data" / "splits" / exp.dataset, exp.dataset, ("test",))
    model_dir = ROOT / "models" / name
    trained = read_json(model_dir / "train.json", f"dvc repro --force train@{name}")

    # Score through the saved artifact itself, as a user of the model would load it.
    try:
        model = mlflow.pyfunc.load_model(str(model_dir))
    except Exception as err:  # a half-copied or edited model folder: retraining recreates it
        raise ReprozooError(f"{model_dir}: not a loadable MLflow model ({type(err).__name__}); recreate it "
                            f"with: dvc repro --force train@{name}") from None
    labels = split.test["labels"]
    scores = torch.from_numpy(model.predict(as_input(split.test["images"]).numpy()))
    result = score(scores, labels, LOSSES[exp.loss])
    entry = CATALOGUE[exp.reproduces]
    metrics = {
        "experiment": name,
        "reproduces": exp.reproduces,
        "dataset": exp.dataset,
        "source": split.manifest["source"],
        "source_note": split.manifest.get("source_note", ""),
        "model": exp.model,
        "permute_pixels": exp.permute_pixels,
        "data_sha256": split.manifest["data_sha256"],
        # main_metric names the key of the figure that stands beside the seed's (see reprozoo.report).
        "main_metric": "test_accuracy",
        "test_accuracy": round(result["accuracy"], 6),
        "test_loss": round(result["loss"], 6),
        "test_samples": len(labels),
        "epochs": trained["epochs"],
        "train_samples": trained["train_samples"],
        "train_seconds": trained["train_seconds"],
        "device": trained["device"],
        "seed_reported": entry.reported,
        "seed_reported_text": entry.reported_text,
        "mlflow_run_id": trained["run_id"],
        "mlflow_experiment_id": trained["experiment_id"],
    }
    write_json(ROOT / "metrics" / f"{name}.json", metrics)

    predicted = scores.argmax(1)
    classes = split.manifest["classes"]

    def write_confusion(path):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["actual", "predicted"])
            writer.writerows((classes[a], classes[p]) for a, p in zip(labels.tolist(), predicted.tolist()))

    atomic_write(ROOT / "plots" / name / "confusion.csv", write_confusion)
    pictures = [save_png(confusion_figure(labels, predicted, classes, name), ROOT / "plots" / name / "confusion.png"),
                save_png(misclassified_figure(split.test["images"], labels, predicted, classes, name),
                         ROOT / "plots" / name / "misclassified.png")]

    # Logged through the client, not by reopening the run: that would mark the finished training
    # run RUNNING, and FAILED or RUNNING for good if this stage were interrupted.
    client = MlflowClient(use_store())
    for key in ("accuracy", "loss"):
        with_retries(client.log_metric, trained["run_id"], f"test_{key}", result[key])
    with_retries(client.set_tag, trained["run_id"], "evaluated", "true")
    for path in pictures:
        with_retries(client.log_artifact, trained["run_id"], str(path), artifact_path="evaluation")
    print(f"evaluate@{name}: test accuracy {result['accuracy']:.4f} loss {result['loss']:.4f} "
          f"(seed reports {entry.reported_text})")


if __name__ == "__main__":
    run_main(main)
