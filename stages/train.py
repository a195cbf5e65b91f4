"""train@<experiment>: train one image classifier, log the run to MLflow, save the model to models/<experiment>/."""

from __future__ import annotations

import csv
import dataclasses
import sys
import time

from reprozoo import ROOT
from reprozoo.classifier import build_classifier, log_and_save, model_metadata, trainable_parameters
from reprozoo.data.files import atomic_write, write_json
from reprozoo.data.split import load_split
from reprozoo.errors import run_main
from reprozoo.params import experiment, load_params
from reprozoo.progress import Progress
from reprozoo.runtime import configure, seed_everything
from reprozoo.tracking import flatten, run_tags, use_experiment
from reprozoo.train import fit, make_optimizer

HISTORY_FIELDS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]


def main() -> None:
    import mlflow

    name = sys.argv[1]
    params = load_params()
    exp = experiment(params, name)
    device = configure(params.runtime.device, params.runtime.threads, params.runtime.deterministic)
    split = load_split(ROOT / "data" / "splits" / exp.dataset, exp.dataset, ("train", "val"))
    generator = seed_everything(exp.seed)
    # Timed from here: a transfer stand-in pretrains its backbone while it is built.
    start = time.perf_counter()
    model = build_classifier(exp, split.manifest).to(device)
    trainable = trainable_parameters(model)  # a frozen backbone's weights stay out of the optimizer
    optimizer = make_optimizer(exp.optimizer, trainable, exp.lr, exp.optimizer_args)

    experiment_id = use_experiment(name)
    tags = run_tags(name, exp.reproduces, split.manifest, f"train@{name}")
    with mlflow.start_run(run_name=name, tags=tags) as run:
        mlflow.log_params(flatten("", {"experiment": dataclasses.asdict(exp), "runtime": dataclasses.asdict(
            params.runtime), "dataset": dataclasses.asdict(params.datasets[exp.dataset]), "device": str(device),
            "trainable_parameters": sum(p.numel() for p in trainable),
            "frozen_parameters": sum(p.numel() for p in model.parameters() if not p.requires_grad)}))

        progress = Progress(name, exp.epochs)

        def on_epoch(row: dict) -> None:
            mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"])
            progress.epoch_done(row)

        history = fit(model, split.train, split.val, optimizer, exp.loss, exp.epochs, exp.batch_size, generator,
                      device, on_epoch, amp=params.runtime.amp, cuda_graphs=params.runtime.cuda_graphs,
                      wrap_batches=progress.batches)
        progress.close()
        train_seconds = time.perf_counter() - start
        mlflow.log_metric("train_seconds", train_seconds)
        out = ROOT / "models" / name
        log_and_save(model, split.train["images"][:2], model_metadata(name, exp, split.manifest), out)
        # The experiment id comes from the store (ids differ store to store); the report links with both.
        write_json(out / "train.json", {"run_id": run.info.run_id, "experiment_id": experiment_id,
                                        "train_seconds": round(train_seconds, 2), "epochs": exp.epochs,
                                        "train_samples": len(split.train["labels"]), "device": str(device)})

    def write_history(path):
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, HISTORY_FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}
                             for row in history)

    atomic_write(ROOT / "plots" / name / "history.csv", write_history)


if __name__ == "__main__":
    run_main(main)
