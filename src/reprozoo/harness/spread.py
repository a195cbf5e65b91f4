"""The run-to-run spread (spread@<name>): an experiment retrained and scored once per extra seed.

One process for all seeds: the data load and the imports are paid once. Seeds side by side in one-thread
worker processes were measured on the 2-core machine and were slower (docs/speed.md, "The spread").
"""

from __future__ import annotations

import time

from reprozoo import ROOT
from reprozoo.config.errors import Interrupted
from reprozoo.data.files import write_json
from reprozoo.harness.context import RunContext
from reprozoo.harness.outputs import machine, number
from reprozoo.ledger.runlog import RunLog
from reprozoo.ledger.timing import spend
from reprozoo.tasks import Task
from reprozoo.training import checkpoint
from reprozoo.training.runtime import seed_everything


def spread_runs(task: Task, name: str, p, params, device, stage: str) -> None:
    """Train and score `name` once per extra seed of its spread, each an MLflow run (`stage`'s) tagged with
    its seed. Nothing is kept but the figures (results/spread/<name>.json) and the runs; the models are
    neither saved nor registered."""
    seeds = params.spread.seeds_for(name)
    runs = {}
    data = None
    for seed in seeds:
        ps = p.model_copy(update={"seed": seed})
        seed_everything(seed)
        log = RunLog(name, ps, stage, getattr(ps, "epochs", None), spread_seed=seed)
        ctx = RunContext(name, task.kind, ps, params, log.setup_device(device), ROOT, log)
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
        log.say(f"{stage}: seed {seed}: {result.main_metric} {result.metrics[result.main_metric]:.4f} "
                f"({seconds:.0f} s)")
    write_json(ROOT / "results" / "spread" / f"{name}.json", {
        "experiment": name, "metric": result.main_metric, "runs": runs, "data_sha256": data.sha256,
        "machine": machine()})
