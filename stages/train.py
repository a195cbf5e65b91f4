"""train@<experiment>: train one image classifier, log the run to MLflow, save the model to models/<experiment>/.

Ctrl-C or SIGTERM saves a checkpoint and ends the MLflow run as KILLED; the next run of the
same params resumes it (runtime.resume). Under `torchrun --nproc_per_node=N` it trains
data-parallel and only rank 0 logs and writes.
"""

from __future__ import annotations

import csv
import dataclasses
import sys
import time

from reprozoo import ROOT, checkpoint, distributed
from reprozoo.classifier import build_classifier, log_and_save, model_metadata, trainable_parameters
from reprozoo.data.files import atomic_write, write_json
from reprozoo.data.split import load_split
from reprozoo.errors import Interrupted, run_main
from reprozoo.params import experiment, load_params
from reprozoo.progress import Progress
from reprozoo.runtime import configure, seed_everything
from reprozoo.tracking import flatten, run_tags, use_experiment, with_retries
from reprozoo.train import fit, make_optimizer

HISTORY_FIELDS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]


def start_run(name: str, tags: dict, logged: dict, resumed: dict | None):
    """Reopen the checkpoint's MLflow run when the store still has it, else start a new one."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if resumed and resumed["run_id"]:
        try:
            with_retries(mlflow.get_run, resumed["run_id"])
            run = with_retries(mlflow.start_run, run_id=resumed["run_id"])
            with_retries(mlflow.set_tag, "resumed_after_epoch", len(resumed["history"]))
            return run
        except MlflowException:  # the store was reset since: log the epochs done again into a new run
            pass
    run = with_retries(mlflow.start_run, run_name=name, tags=tags)
    with_retries(mlflow.log_params, logged)
    for row in resumed["history"] if resumed else []:
        with_retries(mlflow.log_metrics, {k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"])
    return run


def write_history(path, history: list[dict]) -> None:
    """The per-epoch rows as the CSV that dvc plots reads."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, HISTORY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in history)


def main() -> None:
    # From here on SIGINT/SIGTERM raise Interrupted, so no signal can leave a run RUNNING.
    with checkpoint.interruptible():
        train(sys.argv[1])


def train(name: str) -> None:
    """Train experiment `name` (resuming its checkpoint if any), log it and save its model."""
    params = load_params()
    exp = experiment(params, name)
    import mlflow  # after the params check: a typo in params.yaml is reported in a second

    device = distributed.setup(configure(params.runtime.device, params.runtime.threads, params.runtime.deterministic))
    main_rank = distributed.is_main()
    split = load_split(ROOT / "data" / "splits" / exp.dataset, exp.dataset, ("train", "val"))
    generator = seed_everything(exp.seed)
    # Timed from here: a transfer stand-in pretrains its backbone while it is built.
    start = time.perf_counter()
    model = build_classifier(exp, split.manifest).to(device)
    trainable = trainable_parameters(model)  # a frozen backbone's weights stay out of the optimizer
    optimizer = make_optimizer(exp.optimizer, trainable, exp.lr, exp.optimizer_args)

    digest = checkpoint.fingerprint(exp, params.runtime, split.manifest["data_sha256"], device.type,
                                    distributed.world()[1])
    ckpt_path = checkpoint.checkpoint_path(name, digest)
    resumed = checkpoint.load(ckpt_path, digest) if params.runtime.resume else None
    if resumed:
        checkpoint.restore(resumed, model, optimizer, generator)
        if main_rank:
            print(f"[{name}] resuming after epoch {len(resumed['history'])}/{exp.epochs} from {ckpt_path}")
    trainee = distributed.wrap(model, device)
    before = resumed["seconds"] if resumed else 0.0
    run = last = experiment_id = None
    progress = Progress(name, exp.epochs) if main_rank else None
    try:
        if main_rank:
            experiment_id = use_experiment(name)
            logged = flatten("", {"experiment": dataclasses.asdict(exp),
                                  "runtime": dataclasses.asdict(params.runtime),
                                  "dataset": dataclasses.asdict(params.datasets[exp.dataset]), "device": str(device),
                                  "trainable_parameters": sum(p.numel() for p in trainable),
                                  "frozen_parameters": sum(p.numel() for p in model.parameters()
                                                           if not p.requires_grad)})
            run = start_run(name, run_tags(name, exp.reproduces, split.manifest, f"train@{name}"), logged, resumed)
        run_id = run.info.run_id if run else None
        last = {**resumed, "run_id": run_id} if resumed else \
            checkpoint.capture(model, optimizer, generator, [], run_id, before)

        def on_epoch(row: dict) -> None:
            nonlocal last
            last = checkpoint.capture(model, optimizer, generator, last["history"] + [row], run_id,
                                      before + time.perf_counter() - start)
            if main_rank:
                with_retries(mlflow.log_metrics, {k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"])
                progress.epoch_done(row)

        # Not graphed under DistributedDataParallel: its gradient all-reduce is outside a captured step.
        history = fit(trainee, split.train, split.val, optimizer, exp.loss, exp.epochs, exp.batch_size, generator,
                      device, on_epoch, amp=params.runtime.amp,
                      cuda_graphs=params.runtime.cuda_graphs and not distributed.active(),
                      wrap_batches=progress.batches if progress else iter,
                      history=resumed["history"] if resumed else None)
        if progress:
            progress.close()
        train_seconds = before + time.perf_counter() - start
        if main_rank:
            with_retries(mlflow.log_metric, "train_seconds", train_seconds)
            out = ROOT / "models" / name
            log_and_save(model, split.train["images"][:2], model_metadata(name, exp, split.manifest), out)
            # The experiment id comes from the store (ids differ store to store); the report links with both.
            write_json(out / "train.json", {"run_id": run_id, "experiment_id": experiment_id,
                                            "train_seconds": round(train_seconds, 2), "epochs": exp.epochs,
                                            "train_samples": len(split.train["labels"]), "device": str(device)})
            atomic_write(ROOT / "plots" / name / "history.csv", lambda p: write_history(p, history))
    except Interrupted as sig:
        saved = ""
        if main_rank and last is not None:
            checkpoint.save(ckpt_path, last, digest)
            saved = (f"; the checkpoint after epoch {len(last['history'])}/{exp.epochs} is in {ckpt_path}, "
                     "rerun (dvc repro) to resume")
        if run is not None:
            with_retries(mlflow.end_run, "KILLED")
        raise Interrupted(sig.signum, f"{name}: stopped by {sig}" + (f"; MLflow run {run.info.run_id} KILLED"
                                                                    if run else "") + saved) from None
    except BaseException:
        if run is not None:
            with_retries(mlflow.end_run, "FAILED")
        raise
    finally:
        distributed.teardown()
    if run is not None:
        with_retries(mlflow.end_run, "FINISHED")
        checkpoint.discard(ckpt_path)


if __name__ == "__main__":
    run_main(main)
