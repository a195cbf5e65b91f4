"""The one harness: trains and evaluates any experiment the same way.

It owns what no task should repeat: process set-up and seeding, the MLflow run from start to
FINISHED, FAILED or KILLED (resumed after a stop), checkpoints, and writing every output whole.
`python stages/run.py <experiment> [train|evaluate|all]` calls run().
"""

from __future__ import annotations

import time

from reprozoo import ROOT

from reprozoo.training import checkpoint
from reprozoo.data.files import read_json, write_json
from reprozoo.config.errors import Interrupted, ReprozooError
from reprozoo.harness.outputs import write_history, write_results
from reprozoo.ledger.runlog import RunLog
from reprozoo.training.runtime import configure, seed_everything
from reprozoo.harness.spread import spread_runs
from reprozoo.harness.context import RunContext
from reprozoo.harness.params import load_experiment
from reprozoo.tasks import Task
from reprozoo.ledger.timing import spend

PHASES = ("train", "evaluate", "all", "spread")


def stage_name(task: Task, name: str, phase: str) -> str:
    """The DVC stage that runs this phase (dvc.yaml): train@x / evaluate@x / spread@x, else <kind>@x."""
    group = phase if task.separate_evaluate or phase == "spread" else task.kind.replace("_", "-")
    return f"{group}@{name}"


def run_phase(name: str, phase: str = "all") -> None:
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
        spread_runs(task, name, p, params, device, stage_name(task, name, phase))
        return
    seed_everything(p.seed)
    log = RunLog(name, p, stage_name(task, name, phase), getattr(p, "epochs", None))
    ctx = RunContext(name, kind, p, params, log.setup_device(device), ROOT, log)
    try:
        with spend("work"):
            data = task.load(ctx)
        with checkpoint.interruptible():  # from here SIGINT/SIGTERM raise Interrupted: no run stays RUNNING
            if phase == "evaluate":
                evaluate_trained(task, ctx, data, log)
            else:
                train_phase(task, ctx, data, log, evaluate=phase == "all")
    finally:
        log.teardown()


def train_phase(task: Task, ctx: RunContext, data, log: RunLog, evaluate: bool) -> None:
    """Train (resuming a stopped run of the same params and data), then evaluate or keep the model."""
    digest = checkpoint.params_digest(ctx.kind, ctx.params, ctx.project.runtime, data.sha256, ctx.device.type,
                                    log.world_size)
    path = checkpoint.checkpoint_path(ctx.name, digest)
    saved = checkpoint.load(path, digest) if ctx.project.runtime.resume else None
    before = 0.0
    if saved:
        ctx.resumed, ctx.history, before = saved["task"], list(saved["history"]), saved["seconds"]
        log.say(f"[{ctx.name}] resuming after epoch {len(ctx.history)}/{getattr(ctx.params, 'epochs', '?')} "
                f"from {path}")
    log.start(data, saved["run_id"] if saved else None, ctx.history, digest)
    ctx.checkpoint = (path, digest)
    if type(task).train is not Task.train:  # torch imports its compiler when the first optimizer is built:
        import torch._dynamo  # noqa: F401  (~1 s, kept out of train_seconds)
    start = time.perf_counter()
    ctx.clock = lambda: before + time.perf_counter() - start
    try:
        with spend("work"):
            task.train(ctx, data)
        seconds = ctx.clock()
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
        if log.main and ctx.snapshot is not None:  # saved at the end of that epoch already
            note = (f"; the checkpoint after epoch {len(ctx.snapshot['history'])} is in {path}, rerun (dvc repro) "
                    "to resume")
        log.end("KILLED")
        raise Interrupted(sig.signum, f"{ctx.name}: stopped by {sig}; MLflow run {log.run_id} KILLED{note}") from None
    except ReprozooError as err:  # a store, a server or a disk: what was trained is kept
        try:
            log.end("FAILED")
        except ReprozooError:
            pass  # the store that failed refuses this too: the rerun resumes into the run all the same
        if log.main and ctx.snapshot is not None:
            raise ReprozooError(f"{err}; the checkpoint after epoch {len(ctx.snapshot['history'])} is kept in "
                                f"{path}: rerun to resume there") from None
        raise
    except BaseException:
        log.end("FAILED")
        raise
    log.end("FINISHED")
    checkpoint.discard(path)


def evaluate_trained(task: Task, ctx: RunContext, data, log: RunLog) -> None:
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
