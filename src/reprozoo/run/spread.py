"""The run-to-run spread (spread@<name>): an experiment retrained and scored once per extra seed.

The seeds are independent, so on a CPU they train side by side, one process and one thread each, as many
at a time as runtime.threads allows: a small net gains little from a second thread (s000's RNN: 1.3x on 2),
and two of them on one core each keep both busy. A seed's figures do not depend on how many run beside it:
each trains on one thread whatever the worker count, so a rerun (or a machine with more cores) gives the same
bits. On a GPU the seeds run one after another in this process, on the stage's own device set-up.
"""

from __future__ import annotations

import multiprocessing
import signal
import time

from reprozoo import ROOT
from reprozoo.config.errors import Interrupted, ReprozooError
from reprozoo.data.files import write_json
from reprozoo.run import checkpoint
from reprozoo.run.outputs import machine, number
from reprozoo.run.runlog import RunLog
from reprozoo.run.runtime import configure, seed_everything
from reprozoo.run.timing import spend
from reprozoo.tasks import Context, load_experiment

_data = {}  # a worker's loaded data, by experiment: loaded once for all the seeds it trains


def spread_runs(name: str, stage: str, device) -> None:
    """Train and score `name` once per extra seed of its spread, each an MLflow run tagged with its seed.

    Nothing is kept but the figures (results/spread/<name>.json) and the runs; the models are neither saved
    nor registered. `device` is the stage's own (configure()): a CUDA one keeps the seeds in this process.
    """
    params, task, _ = load_experiment(name)
    seeds = params.spread.seeds_for(name)
    workers = min(params.runtime.threads, len(seeds))
    if device.type != "cpu" or workers < 2:
        print(f"{stage}: {len(seeds)} seeds, one after another", flush=True)
        results = [train_seed(name, stage, seed, device) for seed in seeds]
    else:
        print(f"{stage}: {len(seeds)} seeds, {workers} at a time, one thread each", flush=True)
        results = in_workers(name, stage, seeds, workers)
    write_json(ROOT / "results" / "spread" / f"{name}.json", {
        "experiment": name, "metric": results[-1]["metric"],
        "runs": {str(seed): r["figures"] for seed, r in zip(seeds, results)},
        "data_sha256": results[-1]["data_sha256"], "machine": machine()})


def in_workers(name: str, stage: str, seeds: list[int], workers: int) -> list[dict]:
    """The seeds in `workers` fresh processes (spawned: a forked torch may hang in its thread pools)."""
    pool = multiprocessing.get_context("spawn").Pool(workers, initializer=worker_start)
    try:
        with spend("work"), checkpoint.interruptible():
            results = pool.starmap(seed_in_worker, [(name, stage, seed) for seed in seeds], chunksize=1)
        pool.close()
        return results
    except BaseException:
        pool.terminate()  # SIGTERM: a worker still training ends its run KILLED
        raise
    finally:
        pool.join()


def worker_start() -> None:
    """A worker ends (its run KILLED) when the stage's process dies, even by kill -9; a Ctrl-C reaches the
    whole process group, and each worker ends its own run."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the pool's own shut-down still ends them
        pass


def seed_in_worker(name: str, stage: str, seed: int) -> dict:
    """train_seed() in a worker, on one thread. A worker's stop comes back as an error the pool can carry
    (a KeyboardInterrupt there would end the worker and leave the pool waiting)."""
    try:
        return train_seed(name, stage, seed, None)
    except Interrupted as err:
        raise ReprozooError(f"{stage}: seed {seed} stopped by {err}; its MLflow run is KILLED") from None


def train_seed(name: str, stage: str, seed: int, device) -> dict:
    """One seed: trained, scored and logged as its own MLflow run. In a worker (device None) on one thread;
    a tiny net is set up as its stage sets it up (runtime.configure)."""
    params, task, p = load_experiment(name)
    rt = params.runtime
    if device is None:
        device = configure("cpu", 1, deterministic=rt.deterministic and not task.tiny,
                           blas_threads=rt.threads if task.tiny else 1)
    ps = p.model_copy(update={"seed": seed})
    seed_everything(seed)
    log = RunLog(name, ps, stage, getattr(ps, "epochs", None), spread_seed=seed)
    ctx = Context(name, task.kind, ps, params, log.setup_device(device), ROOT, log)
    try:
        if name not in _data:
            with spend("work"):
                _data[name] = task.load(ctx)
        data = _data[name]
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
    log.say(f"{stage}: seed {seed}: {result.main_metric} {result.metrics[result.main_metric]:.4f} "
            f"({seconds:.0f} s)")
    figures = {k: number(k, v) for k, v in result.metrics.items()} | {"train_seconds": round(seconds, 2)}
    return {"figures": figures, "metric": result.main_metric, "data_sha256": data.sha256}
