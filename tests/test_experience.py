"""What a user sees, for real: a small trained project, the MLflow UI in headless Chromium, the model server.

One module-scoped project: the real stages run on the real (embedded) data with params.yaml shrunk to
one epoch of s003-cnn-mnist, logging to a fresh MLflow store in a temp folder. Then `make ui` and
`mlflow models serve` run against it on 127.0.0.1, started together to overlap their start-up.
The UI screenshot and DOM are kept under test-artifacts/.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
import yaml

from reprozoo import ROOT
from reprozoo.report.report import UI_URL, UI_VIEW, build_report

pytestmark = pytest.mark.ui

EXPERIMENT = "s003-cnn-mnist"
TSNE = "s003-cnn-tsne"
ARTIFACTS = ROOT / "test-artifacts"
START_TIMEOUT = 180  # seconds; `mlflow ui` answers after ~30 s on a busy 2-core machine


def env_for(project: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DVC_ROOT")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # uvicorn, mlflow of this venv
    env["PYTHONPATH"] = str(project / "src")
    env["DVC_STAGE"] = "test"  # the stages' outputs go to the project (reprozoo.ROOT is the working directory)
    return env


def run_stage(project: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, *args], cwd=project, env=env_for(project), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}{result.stderr[-2000:]}"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project with the real stages run: data, one epoch of training, evaluation, t-SNE."""
    project = tmp_path_factory.mktemp("project")
    for name in ("src", "stages"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    # The embedded MNIST (offline, seconds) and one epoch of the CNN, with its t-SNE probe on 100 images.
    raw["datasets"] = {"mnist": {**raw["datasets"]["mnist"], "source": "embedded", "val_fraction": 0.1}}
    raw["backbones"] = {}
    raw["experiments"] = {"image_classifier": {EXPERIMENT: {**raw["experiments"]["image_classifier"][EXPERIMENT],
                                                            "epochs": 1}},
                          "probe": {TSNE: {**raw["experiments"]["probe"][TSNE], "samples": 100}}}
    raw["spread"] = {}
    (project / "params.yaml").write_text(yaml.safe_dump(raw))
    run_stage(project, "stages/download.py", "mnist")
    run_stage(project, "stages/split.py", "mnist")
    run_stage(project, "stages/run.py", EXPERIMENT, "train")
    run_stage(project, "stages/run.py", EXPERIMENT, "evaluate")
    run_stage(project, "stages/run.py", TSNE)
    return project


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A server in its own session, so stopping it stops all its workers."""
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_until_up(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"{url} did not answer in {START_TIMEOUT} s: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def servers(project, tmp_path_factory):
    """`make ui` on the project's store and `mlflow models serve` on its model, both on 127.0.0.1."""
    logs = tmp_path_factory.mktemp("logs")
    ui_port, model_port = free_port(), free_port()
    env = env_for(project)
    # -o install: use the environment the tests run in rather than (re)building .venv.
    ui = start(["make", "-s", "-o", "install", "ui", f"UI_STORE=sqlite:///{project / 'mlflow.db'}",
                f"UI_PORT={ui_port}"], env, logs / "ui.log")
    # The registered champion, as `make serve` serves it (the alias moved to this run when it was evaluated).
    model = start(["make", "-s", "-o", "install", "serve", f"EXP={EXPERIMENT}", f"SERVE_PORT={model_port}",
                   f"UI_STORE=sqlite:///{project / 'mlflow.db'}"], env, logs / "serve.log")
    try:
        wait_until_up(ui, f"http://127.0.0.1:{ui_port}/health", logs / "ui.log")
        wait_until_up(model, f"http://127.0.0.1:{model_port}/ping", logs / "serve.log")
        yield {"ui": f"http://127.0.0.1:{ui_port}", "model": f"http://127.0.0.1:{model_port}"}
    finally:
        stop(ui)
        stop(model)


def chromium(url: str, profile: Path, screenshot: Path | None = None, budget_s: int = 30) -> str:
    """The DOM of `url` after `budget_s` of (virtual) time for its scripts, from headless Chromium."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium not found; install it with: make chromium")
    shutil.rmtree(profile, ignore_errors=True)  # a fresh profile each time: no cache, no saved UI state
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
           "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
           f"--virtual-time-budget={budget_s * 1000}", "--window-size=1600,1000", "--dump-dom", url]
    if screenshot is not None:
        cmd.insert(-2, f"--screenshot={screenshot}")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def visible_text(dom: str) -> str:
    """The page's text: no scripts, styles, tags or React's <!-- --> separators; whitespace collapsed."""
    text = re.sub(r"<script.*?</script>|<style.*?</style>|<!--.*?-->", "", dom, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def store_ids(project: Path) -> tuple[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    return experiment.experiment_id, run.info.run_id


def test_stages_log_pictures_and_ids_to_the_run(project):
    from mlflow.tracking import MlflowClient

    experiment_id, run_id = store_ids(project)
    trained = json.loads((project / "models" / EXPERIMENT / "run.json").read_text())
    record = json.loads((project / "results" / EXPERIMENT / "run.json").read_text())
    metrics = json.loads((project / "metrics" / f"{EXPERIMENT}.json").read_text())
    assert (trained["mlflow_experiment_id"], trained["mlflow_run_id"]) == (experiment_id, run_id)
    assert (record["mlflow_experiment_id"], record["mlflow_run_id"]) == (experiment_id, run_id)
    assert record["main_metric"] == "test_accuracy" and 0.8 < metrics["test_accuracy"] <= 1
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    logged = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    assert logged == {"evaluation/confusion.png", "evaluation/misclassified.png"}
    for name in ("confusion.png", "misclassified.png"):
        assert (project / "plots" / EXPERIMENT / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (project / "plots" / TSNE / "tsne.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the probe's own run
    tsne = json.loads((project / "results" / TSNE / "run.json").read_text())
    assert tsne["info"]["hooked_run_id"] == run_id


def test_report_links_to_the_run_in_the_store(project):
    experiment_id, run_id = store_ids(project)
    (row,) = [r for r in build_report([EXPERIMENT], project)["rows"] if r["experiment"]]
    assert row["mlflow_url"] == f"{UI_URL}/#/experiments/{experiment_id}/runs/{run_id}?{UI_VIEW}"
    assert row["data"] == "subset" and row["epochs"] == 1


def test_mlflow_ui_shows_the_runs_and_their_metric_charts(project, servers, tmp_path):
    experiment_id, run_id = store_ids(project)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "mlflow-ui.png"
    shot.unlink(missing_ok=True)
    # The experiment's runs with their metric charts (the chart view of the runs page). The charts fetch
    # their data after the page has drawn; on a busy machine that can outlast the first time budget.
    url = f"{servers['ui']}/#/experiments/{experiment_id}/runs?compareRunsMode=CHART"
    for budget_s in (30, 60, 120):
        dom = chromium(url, tmp_path / "profile", shot, budget_s)
        if dom.count("js-plotly-plot") >= 4:
            break
    (ARTIFACTS / "mlflow-ui.html").write_text(dom)
    text = visible_text(dom)
    assert EXPERIMENT in text and "1 matching run" in text, text[:2000]
    # Charts are drawn as they scroll into view: the first rows (metrics sorted by name) are on screen.
    assert dom.count("js-plotly-plot") >= 4, "expected the metrics' plotly charts: " + text[:2000]
    for metric in ("train_loss", "train_accuracy"):
        assert f"{EXPERIMENT} ({metric})" in text, metric  # a per-epoch line chart's legend: run name (metric)
    assert "test_accuracy" in text
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    # A fresh visitor following the project's links (make ui prints the one to start from; the report's
    # rows carry the same view) lands on the training runs, not on MLflow's GenAI overview.
    landing = ARTIFACTS / "mlflow-ui-landing.png"
    visitor = chromium(f"{servers['ui']}/#/experiments/{experiment_id}?{UI_VIEW}", tmp_path / "profile", landing, 60)
    (ARTIFACTS / "mlflow-ui-landing.html").write_text(visitor)
    landing_text = visible_text(visitor)
    assert EXPERIMENT in landing_text and "Detect Issues" not in landing_text, landing_text[:2000]
    assert "1 matching run" in landing_text or run_id[:8] in visitor, landing_text[:2000]
    # The Datasets column names the run's data (mlflow.log_input), as the report does.
    assert "mnist/train" in text or "mnist/train" in landing_text, (text + landing_text)[:3000]
    # The report's link (port aside) opens that run's page.
    link = build_report([EXPERIMENT], project)["rows"]
    url = next(r["mlflow_url"] for r in link if r["experiment"]).replace(UI_URL, servers["ui"])
    run_text = visible_text(chromium(url, tmp_path / "profile"))
    assert f"Run {run_id}" in run_text and EXPERIMENT in run_text, run_text[:2000]
    assert "test_accuracy" in run_text


def test_model_server_answers_a_test_image_with_its_class(project, servers):
    import mlflow.pyfunc

    test = torch.load(project / "data" / "splits" / "mnist" / "test.pt")
    images = test["images"][:20].float().div(255).numpy()  # (20, 1, 28, 28) in [0, 1], as the model expects
    local = mlflow.pyfunc.load_model(str(project / "models" / EXPERIMENT)).predict(images)
    # The first test image the model gets right; a 1-epoch CNN gets ~90 % right, so one is among the first 20.
    i = next(i for i in range(len(images)) if local[i].argmax() == test["labels"][i])
    body = json.dumps({"inputs": images[i:i + 1].tolist()}).encode()
    request = urllib.request.Request(f"{servers['model']}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        scores = json.loads(response.read())["predictions"]
    assert len(scores) == 1 and len(scores[0]) == 10
    assert max(range(10), key=lambda c: scores[0][c]) == int(test["labels"][i])
    assert scores[0] == pytest.approx(local[i].tolist(), abs=1e-4)
