"""The one harness: trains and evaluates any experiment the same way.

It owns what no task should repeat: process set-up and seeding, the MLflow run from start to
FINISHED, FAILED or KILLED (resumed after a stop), checkpoints, and writing every output whole.
`python stages/run.py <experiment> [train|evaluate|all]` calls run().
"""

from __future__ import annotations

import time

from reprozoo import ROOT

from reprozoo.run import checkpoint
from reprozoo.data.files import read_json, write_json
from reprozoo.config.errors import Interrupted, ReprozooError
from reprozoo.run.outputs import machine, number, write_history, write_results
from reprozoo.run.runlog import RunLog
from reprozoo.run.runtime import configure, seed_everything
from reprozoo.tasks import Context, Task, load_experiment
from reprozoo.run.timing import spend

PHASES = ("train", "evaluate", "all", "spread")


def stage_name(task: Task, name: str, phase: str) -> str:
    """The DVC stage that runs this phase (dvc.yaml): train@x / evaluate@x / spread@x, else <kind>@x."""
    group = phase if task.separate_evaluate or phase == "spread" else task.kind.replace("_", "-")
    return f"{group}@{name}"


def run(name: str, phase: str = "all") -> None:
    """Run one phase of experiment `name` as params.yaml describes it (spread: once per extra seed)."""
    params, task, p = load_experiment(name)
    kind = task.kind
    allowed = ("train", "evaluate") if task.separate_evaluate else ("all",)
    if phase == "spread":
        if name not in params.spread.experiments:
            raise ReprozooError(f"spread: {name} is not under params.yaml's spread.experiments")
    elif phase not in allowed:
        raise ReprozooError(f"{name} ({kind}): phase {phase!r}; allowed: {', '.join(allowed)}")
    rt = params.runtime
    if task.tiny:  # nets of a few hundred weights: a second thread or a GPU only adds latency
        device = configure("cpu", 1, deterministic=False, blas_threads=rt.threads)
    else:
        device = configure(rt.device, rt.threads, rt.deterministic)
    if phase == "spread":
        spread_runs(task, name, kind, p, params, device)
        return
    seed_everything(p.seed)
    log = RunLog(name, p, stage_name(task, name, phase), getattr(p, "epochs", None))
    ctx = Context(name, kind, p, params, log.setup_device(device), ROOT, log)
    try:
        with spend("work"):
            data = task.load(ctx)
        with checkpoint.interruptible():  # from here SIGINT/SIGTERM raise Interrupted: no run stays RUNNING
            if phase == "evaluate":
                evaluate_trained(task, ctx, data, log)
            else:
                train(task, ctx, data, log, evaluate=phase == "all")
    finally:
        log.teardown()


def train(task: Task, ctx: Context, data, log: RunLog, evaluate: bool) -> None:
    """Train (resuming a stopped run of the same params and data), then evaluate or keep the model."""
    digest = checkpoint.fingerprint(ctx.kind, ctx.params, ctx.project.runtime, data.sha256, ctx.device.type,
                                    log.world_size)
    path = checkpoint.checkpoint_path(ctx.name, digest)
    saved = checkpoint.load(path, digest) if ctx.project.runtime.resume else None
    before = 0.0
    if saved:
        ctx.resumed, ctx.history, before = saved["task"], list(saved["history"]), saved["seconds"]
        log.say(f"[{ctx.name}] resuming after epoch {len(ctx.history)}/{getattr(ctx.params, 'epochs', '?')} "
                f"from {path}")
    log.start(data, saved["run_id"] if saved else None, ctx.history, digest)
    log.checkpoint = (path, digest)
    if type(task).train is not Task.train:  # torch imports its compiler when the first optimizer is built:
        import torch._dynamo  # noqa: F401  (~1 s, kept out of train_seconds)
    start = time.perf_counter()
    log.clock = lambda: before + time.perf_counter() - start
    try:
        with spend("work"):
            task.train(ctx, data)
        seconds = log.clock()
        log.metrics({"train_seconds": seconds})
        if evaluate:
            with spend("work"):
                result = task.evaluate(ctx, data)
            if log.main:
                log.result(result, write_results(ctx, data, result, log.ids(), seconds), data)
        elif log.main:
            write_json(ctx.model_dir / "run.json", {**log.ids(), "train_seconds": round(seconds, 2),
                                                    "epochs": ctx.history[-1]["epoch"] if ctx.history else None,
                                                    "device": str(ctx.device)})
        if log.main and ctx.history:
            write_history(ROOT / "plots" / ctx.name / "history.csv", ctx.history)
    except Interrupted as sig:
        note = ""
        if log.main and log.snapshot is not None:  # saved at the end of that epoch already
            note = (f"; the checkpoint after epoch {len(log.snapshot['history'])} is in {path}, rerun (dvc repro) "
                    "to resume")
        log.end("KILLED")
        raise Interrupted(sig.signum, f"{ctx.name}: stopped by {sig}; MLflow run {log.run_id} KILLED{note}") from None
    except ReprozooError as err:  # a store, a server or a disk: what was trained is kept
        try:
            log.end("FAILED")
        except ReprozooError:
            pass  # the store that failed refuses this too: the rerun resumes into the run all the same
        if log.main and log.snapshot is not None:
            raise ReprozooError(f"{err}; the checkpoint after epoch {len(log.snapshot['history'])} is kept in "
                                f"{path}: rerun to resume there") from None
        raise
    except BaseException:
        log.end("FAILED")
        raise
    log.end("FINISHED")
    checkpoint.discard(path)


def evaluate_trained(task: Task, ctx: Context, data, log: RunLog) -> None:
    """Score the model the train stage kept, logging into that stage's (finished) run."""
    trained = read_json(ctx.model_dir / "run.json", f"dvc repro --force train@{ctx.name}")
    log.attach(trained, data)
    try:
        with spend("work"):
            result = task.evaluate(ctx, data)
        if trained.get("epochs"):
            result.metrics.setdefault("epochs", trained["epochs"])
        log.result(result, write_results(ctx, data, result, log.ids(), trained["train_seconds"]), data)
    except BaseException as err:  # only a run this evaluation started itself is active to end
        log.end("KILLED" if isinstance(err, Interrupted) else "FAILED")
        raise
    log.end("FINISHED")


def spread_runs(task: Task, name: str, kind: str, p, params, device) -> None:
    """Train and score `name` once per extra seed of its spread, each an MLflow run tagged with its seed.

    One process for all seeds: the data load and the imports are paid once. Nothing is kept but the
    figures (results/spread/<name>.json) and the runs; the models are neither saved nor registered.
    """
    seeds = params.spread.seeds_for(name)
    runs = {}
    data = None
    for seed in seeds:
        ps = p.model_copy(update={"seed": seed})
        seed_everything(seed)
        log = RunLog(name, ps, stage_name(task, name, "spread"), getattr(ps, "epochs", None), spread_seed=seed)
        ctx = Context(name, kind, ps, params, log.setup_device(device), ROOT, log)
        try:
            if data is None:
                with spend("work"):
                    data = task.load(ctx)
            with checkpoint.interruptible():
                log.start(data, None, [], f"spread{seed}")
                start = time.perf_counter()
                with spend("work"):
                    task.train(ctx, data)
                    seconds = time.perf_counter() - start
                    result = task.evaluate(ctx, data)
                log.result(result, [], data)
            log.end("FINISHED")
        except BaseException as err:
            log.end("KILLED" if isinstance(err, Interrupted) else "FAILED")
            raise
        finally:
            log.teardown()
        runs[str(seed)] = {k: number(k, v) for k, v in result.metrics.items()} | {"train_seconds": round(seconds, 2)}
        log.say(f"spread@{name}: seed {seed}: {result.main_metric} {result.metrics[result.main_metric]:.4f} "
                f"({seconds:.0f} s)")
    write_json(ROOT / "results" / "spread" / f"{name}.json", {
        "experiment": name, "metric": result.main_metric, "runs": runs, "data_sha256": data.sha256,
        "machine": machine()})
