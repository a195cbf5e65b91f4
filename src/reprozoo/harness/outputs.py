"""Every experiment's outputs, written by one writer, each file whole or not at all.

metrics/<name>.json     numbers only (what `dvc metrics diff` and `dvc exp show` compare)
results/<name>/run.json the rest: kind, seed id and figure, data source and checksum, MLflow ids,
                        the task's strings and tables (what the report and its UI links read)
results/<name>/*.pt     tensors a task keeps (e.g. captured activations)
plots/<name>/           figures (.png), tables (.csv) and the per-epoch history.csv
"""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path
from typing import Any

from reprozoo import ROOT
from reprozoo.config.catalogue import CATALOGUE
from reprozoo.data.files import atomic_write, save_tensors, write_json

HISTORY_FIRST = ["epoch", "train_loss", "train_accuracy"]


def number(key: str, value: Any) -> float | int:
    """A metric as a plain number, 6 significant digits; anything else is a bug in the task."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"metric {key!r} is {value!r}: metrics hold numbers only (put it in Result.info)")
    if isinstance(value, int) or not math.isfinite(value):
        return value
    return float(f"{value:.6g}")


def save_figure(fig: Any, path: Path) -> Path:
    """A matplotlib figure as PNG, atomically; no timestamp metadata, so reruns give the same bytes."""
    import matplotlib.pyplot as plt

    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100, metadata={"Software": None}))
    plt.close(fig)
    return path


def write_table(path: Path, rows: list[tuple]) -> Path:
    """CSV rows (header first) with LF line ends."""
    def write(p: Path) -> None:
        with open(p, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)

    atomic_write(path, write)
    return path


def write_history(path: Path, history: list[dict]) -> None:
    """Per-epoch rows as the CSV that `dvc plots` draws; columns in a stable order."""
    keys = [k for k in HISTORY_FIRST if k in history[0]] + sorted(set(history[0]) - set(HISTORY_FIRST))
    rows = [tuple(keys)] + [tuple(number(k, r[k]) if isinstance(r[k], float) else r[k] for k in keys)
                            for r in history]
    write_table(path, rows)


def replace_folder(folder: Path, fill) -> None:
    """Build a folder beside `folder`, then swap it in: a reader sees the old one or the new one."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fill(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def machine() -> dict:
    """What the numbers' bits depend on besides the code: the CPU, the kernels' instruction set, the threads."""
    import platform

    import torch

    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor()) if platform.system() == "Linux" else platform.processor()
    return {"cpu": model, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def write_results(ctx: Any, data: Any, result: Any, ids: dict, train_seconds: float) -> list[Path]:
    """All of an evaluation's outputs; returns the pictures written (for the MLflow run)."""
    name, p = ctx.name, ctx.params
    metrics = {k: number(k, v) for k, v in result.metrics.items()}
    if ctx.history and "epochs" not in metrics:
        metrics["epochs"] = ctx.history[-1]["epoch"]
    metrics["train_seconds"] = round(float(train_seconds), 2)
    if result.main_metric not in metrics and result.main_metric not in result.info:
        raise KeyError(f"main_metric {result.main_metric!r} is neither a metric nor in info")
    entry = CATALOGUE[p.reproduces]
    run = {"experiment": name, "kind": ctx.kind, "reproduces": p.reproduces, "main_metric": result.main_metric,
           "seed_printed": entry.printed, "seed_outside": entry.outside, "seed_value": entry.value, **data.record(),
           "device": str(ctx.device), "machine": machine(), **ids, "params": p.model_dump(), "info": result.info}

    def fill(folder: Path) -> None:
        write_json(folder / "run.json", run)
        for stem, tensors in result.tensors.items():
            save_tensors(folder / f"{stem}.pt", tensors)

    replace_folder(ROOT / "results" / name, fill)
    plots = ROOT / "plots" / name
    pictures = [save_figure(fig, plots / f"{stem}.png") for stem, fig in result.figures.items()]
    for stem, rows in result.tables.items():
        write_table(plots / f"{stem}.csv", rows)
    write_json(ROOT / "metrics" / f"{name}.json", metrics)  # last: its presence means the rest is there
    return pictures
