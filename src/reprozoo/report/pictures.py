"""The README's pictures, made from the current outputs: `make pictures` (python -m reprozoo.report.pictures).

docs/mlflow-ui.png  the MLflow UI (`make ui` over ./mlflow.db) on one experiment's runs and their charts
docs/dvc-plots.png  `dvc plots show`: dvc.yaml's loss and accuracy charts over metrics/curves.csv

docs/pictures.json records what each shows: the experiment's figures (metrics/<name>.json, wall clock
aside) and the checksum of metrics/curves.csv. tests/test_pictures.py fails when either has moved on since,
so a picture is never older than what it shows. Any store whose run of the experiment has those figures
will do (`--store`): a regeneration that re-derives the same bits does not make a picture stale.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from reprozoo import ROOT
from reprozoo.report.check import WALL_CLOCK
from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main
from reprozoo.data.files import read_json, write_json
from reprozoo.config.params import load_params

RECORD = "docs/pictures.json"
START_TIMEOUT = 180  # seconds; `mlflow ui` answers after ~30 s on a busy 2-core machine


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def ui_experiment(root: Path = ROOT) -> str:
    """The experiment whose runs docs/mlflow-ui.png shows: params.yaml's tools.ui_picture."""
    params = load_params(root / "params.yaml")
    shown = params.tools.ui_picture
    if shown not in params.names():
        raise ReprozooError(f"params.yaml: tools.ui_picture: {shown!r} is not an experiment of params.yaml; name "
                            "the one whose runs the UI picture shows")
    return shown


def expected(root: Path = ROOT) -> dict:
    """What each picture shows, from the current outputs; docs/pictures.json must say the same."""
    shown = ui_experiment(root)
    metrics = read_json(root / "metrics" / f"{shown}.json", f"dvc repro (the stages of {shown})")
    return {"docs/mlflow-ui.png": {"experiment": shown,
                                   "figures": {k: v for k, v in metrics.items() if k not in WALL_CLOCK}},
            "docs/dvc-plots.png": {"metrics/curves.csv md5": md5(root / "metrics" / "curves.csv")}}


def chromium(url: str, shot: Path, budget_s: int, size: str) -> str:
    """Headless Chromium's DOM of `url` after `budget_s` of virtual time, with a screenshot into `shot`."""
    exe = shutil.which("chromium")
    if exe is None:
        raise ReprozooError("chromium not found; install it with: make chromium")
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: no saved UI state
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
               f"--user-data-dir={profile}", f"--virtual-time-budget={budget_s * 1000}", f"--window-size={size}",
               f"--screenshot={shot}", "--hide-scrollbars", "--dump-dom", url]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise ReprozooError(f"chromium failed on {url}: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout


@contextmanager
def mlflow_ui(store: Path) -> Iterator[str]:
    """`make ui` over `store` on a free loopback port, stopped (all its workers) on leaving."""
    if not store.is_file():
        raise ReprozooError(f"{store}: no MLflow store there; run: make repro, or name one with --store")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")
    proc = subprocess.Popen(["make", "-s", "-o", "install", "ui", f"UI_STORE=sqlite:///{store}", f"UI_PORT={port}"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise ReprozooError(f"make ui did not answer on {url}: {log.read()[-500:]}") from None
                time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def shown_run(store: Path, shows: dict) -> str:
    """The experiment's id in `store`, once its run there has the figures the picture must show."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name(shows["experiment"])
    runs = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'") if experiment else []

    def same(logged: dict) -> bool:  # metrics/ keeps 6 significant digits of what the run logged
        return "test_accuracy" in logged and all(math.isclose(logged[k], v, rel_tol=1e-5)
                                                 for k, v in shows["figures"].items() if k in logged)

    if not any(same(r.data.metrics) for r in runs):
        raise ReprozooError(f"{store}: no FINISHED run of {shows['experiment']} with the figures of "
                            f"metrics/{shows['experiment']}.json; run: dvc repro")
    return experiment.experiment_id


def ui_picture(store: Path, shows: dict, out: Path) -> None:
    """The experiment's runs with their metric charts; the charts fetch their data after the page draws."""
    experiment_id = shown_run(store, shows)
    with mlflow_ui(store) as url:
        page = f"{url}/#/experiments/{experiment_id}/runs?compareRunsMode=CHART&workflowType=machine_learning"
        for budget_s in (30, 60, 120):
            if chromium(page, out, budget_s, "1920,1000").count("js-plotly-plot") >= 4:
                return
    raise ReprozooError(f"the MLflow UI drew no metric charts for {shows['experiment']} at {page}")


def plots_picture(out: Path) -> None:
    """dvc.yaml's two charts across experiments (each experiment's own plots left out)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dvc", "plots", "show", "loss", "accuracy", "-o", tmp], cwd=ROOT, check=True,
                       capture_output=True)
        chromium((Path(tmp) / "index.html").as_uri(), out, 10, "1100,400")


def main() -> None:
    parser = argparse.ArgumentParser(description="Make the README's pictures from the current outputs.")
    parser.add_argument("--store", type=Path, default=ROOT / "mlflow.db", help="the MLflow SQLite store to show")
    store = parser.parse_args().store.resolve()
    shows = expected()
    ui_picture(store, shows["docs/mlflow-ui.png"], ROOT / "docs" / "mlflow-ui.png")
    plots_picture(ROOT / "docs" / "dvc-plots.png")
    write_json(ROOT / RECORD, shows)
    shown = shows["docs/mlflow-ui.png"]["experiment"]
    print(f"pictures: docs/mlflow-ui.png ({shown}), docs/dvc-plots.png -> {RECORD}")


if __name__ == "__main__":
    run_main(main)
