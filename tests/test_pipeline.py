"""The real pipeline: dvc.yaml is consistent, and a fresh clone's `dvc repro` runs and re-derives every experiment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reprozoo import ROOT
from reprozoo.report.check import sampling_sd
from reprozoo.harness.params import load_all
from reprozoo.ledger.timing import LINE

# Floors on the official 10k MNIST test set, each at least 3 sd below the committed run (the test below;
# git's copy of report.json: a local `dvc repro` on another CPU rewrites the working tree's, and the floors
# must not move with it).
MIN_ACCURACY = {"s000-rnn-mnist": 0.94, "s001-lstm-mnist": 0.94, "s003-cnn-mnist": 0.975, "s003-lstm-mnist": 0.935,
                "s002-mnist-fc": 0.97}


def committed(folder: str, name: str) -> dict:
    """A JSON file as committed at HEAD (the working tree's when this is no git checkout)."""
    shown = subprocess.run(["git", "show", f"HEAD:{folder}/{name}.json"], cwd=ROOT, capture_output=True, text=True)
    return json.loads(shown.stdout if shown.returncode == 0 else (ROOT / folder / f"{name}.json").read_text())


def test_report_depends_on_every_experiments_metrics_and_record(params):
    """The report's one `results` dep covers every experiment: each stage that writes metrics/<name>.json
    also writes results/<name>/, so no list of experiments is kept by hand in dvc.yaml."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert "results" in stages["report"]["deps"]
    writers = set()
    for stage in stages.values():
        body = stage.get("do", stage)
        metrics = [next(iter(m)) if isinstance(m, dict) else m for m in body.get("metrics", [])]
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in body.get("outs", [])]
        if "metrics/${key}.json" in metrics:
            assert "results/${key}" in outs, stage
            writers.add(str(stage["foreach"]))
    kinds = {k for k, v in params.experiments.items() if v}
    assert {f"${{experiments.{k}}}" for k in kinds} <= set(writers)


def test_every_experiment_has_committed_numbers_and_a_report_row(params):
    report = json.loads((ROOT / "metrics" / "report.json").read_text())
    assert {row["experiment"] for row in report["rows"] if row["experiment"]} == set(params.all())
    for name in params.all():
        metrics = committed("metrics", name)
        assert metrics and all(isinstance(v, (int, float)) for v in metrics.values()), name


@pytest.mark.parametrize("name, floor", sorted(MIN_ACCURACY.items()))
def test_committed_accuracy_meets_the_floor(name, floor):
    assert committed("metrics", name)["test_accuracy"] >= floor


@pytest.mark.parametrize("name, floor", sorted(MIN_ACCURACY.items()))
def test_each_floor_sits_at_least_3_sd_below_the_committed_run(name, floor, params):
    """3 sd below the mean of the committed spread (sd at least the test set's sampling sd, as
    `make check-reproduction` holds it); a row without a spread: 3 sampling sd below its own figure."""
    rows = {r["experiment"]: r for r in committed("metrics", "report")["rows"]}
    spread, figures = rows[name]["spread"], committed("metrics", name)
    if name in params.spread.experiments:
        assert spread and spread["n"] == params.spread.experiments[name].runs, (name, spread)
    mean = spread["mean"] if spread else figures["test_accuracy"]
    sd = max(spread["sd"] if spread else 0.0, sampling_sd("test_accuracy", mean, figures))
    assert floor <= mean - 3 * sd, (name, floor, mean, sd)


def run(cmd: list[str], cwd: Path, timeout: int = 300, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "REPROZOO_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(cwd / "src")  # the clone's code, not the checkout's editable install
    env.update(extra)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_fresh_clone_runs_every_experiment(clone, params, background_repro):
    if background_repro is None:
        pytest.skip("REPROZOO_TEST_CLONE: a clone re-derived elsewhere, no repro log here")
    log = background_repro.log.read_text()
    assert "didn't change, skipping" not in log, [line for line in log.splitlines() if "skipping" in line]
    ran = {line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage '")}
    for name, (kind, _) in params.all().items():
        stages = {f"train@{name}", f"evaluate@{name}"} if kind == "image_classifier" else \
            {f"{kind.replace('_', '-')}@{name}"}
        assert stages <= ran, (name, stages - ran)
    # Each stage ends with its time line (reprozoo.ledger.timing), which the pipeline's overhead figure sums.
    timed = {line.split()[1].rstrip(":") for line in log.splitlines() if LINE.match(line)}
    assert ran == timed, ran ^ timed


@pytest.mark.slow
def test_clone_rederives_committed_metrics_under_the_contract(clone, params):
    """What `make check-reproduction` checks, on the fresh clone's repro: every figure of every experiment."""
    from reprozoo.report.check import compare, render

    rows = compare(clone)
    assert {r["experiment"] for r in rows} == set(params.all())
    breaches = [r for r in rows if not r["ok"]]
    assert not breaches, render(rows)


# The stand-in for a CPU of another vendor: MKL's vendor-neutral branch gives every matrix product other bits
# (tests/test_kernels.py), as Intel's and AMD's own AVX2 branches do. Two fast experiments of two
# families (LSTM with a linear head, MLP) re-derived under it.
OTHER_KERNELS = {"REPROZOO_CPU_ISA": "compatible", "DVC_STAGE": "other-kernels"}
RERUN = ("s003-lstm-mnist", "s004-fc-mnist")


@pytest.mark.slow
def test_other_kernels_rederive_within_route_b_with_every_figure_judged(clone, tmp_path):
    """What `make check-reproduction` gives on a CPU whose kernels differ: route (b) for every figure, none
    left unjudged, no breach, though the re-derived figures have other bits."""
    from reprozoo.report.check import ROUTES, compare, render

    other = tmp_path / "other"
    shutil.copytree(clone, other, symlinks=True, ignore=shutil.ignore_patterns(".dvc", ".git", ".venv", "mlruns",
                                                                              "mlflow.db", "mlartifacts"))
    for name in RERUN:
        for phase in ("train", "evaluate"):
            result = run(["python", "stages/run.py", name, phase], other, timeout=600, **OTHER_KERNELS)
            assert result.returncode == 0, result.stderr[-3000:]
    result = run(["python", "stages/kernels.py"], other, **OTHER_KERNELS)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = compare(other)
    assert all(r["ok"] for r in rows), render(rows)
    assert not any(r["route"] in (ROUTES[0], ROUTES[6]) for r in rows), render(rows)
    moved = [r for r in rows if r["experiment"] in RERUN and isinstance(r["committed"], float)
             and r["figure"] != "train_seconds" and r["committed"] != r["now"]]
    assert moved, "the other kernels changed no figure: this test would prove nothing"


@pytest.mark.slow
def test_second_repro_reruns_nothing(clone):
    result = run(["dvc", "repro"], clone)
    assert result.returncode == 0, result.stderr
    assert "Running stage" not in result.stdout, result.stdout


@pytest.mark.slow
def test_mlflow_store_has_one_finished_complete_run_per_experiment(clone):
    from mlflow.tracking import MlflowClient

    params = load_all(clone / "params.yaml")  # the clone's: without the spread (tests/conftest.py)
    client = MlflowClient(tracking_uri=f"sqlite:///{clone / 'mlflow.db'}")
    for name, (kind, p) in params.all().items():
        experiment = client.get_experiment_by_name(name)
        runs = [r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
        seeded = [r for r in runs if "reprozoo.spread_seed" in r.data.tags]
        runs = [r for r in runs if r not in seeded]
        assert len(runs) == 1, (name, len(runs))
        if name in params.spread.experiments:  # each other seed of the spread: one FINISHED run, tagged
            assert sorted(int(r.data.tags["reprozoo.spread_seed"]) for r in seeded) == params.spread.seeds_for(name)
            assert all(r.info.status == "FINISHED" for r in seeded), name
        [top] = runs
        assert top.info.status == "FINISHED", name
        assert top.data.params["experiment.reproduces"] == p.reproduces
        for tag in ("git_commit", "dvc_stage", "source", "data_sha256", "mlflow.source.git.commit"):
            assert top.data.tags.get(tag), (name, tag)
        if kind in ("image_classifier", "names_gru"):
            history = client.get_metric_history(top.info.run_id, "train_loss")
            assert [m.step for m in history] == list(range(1, p.epochs + 1)), name
            assert client.search_logged_models([experiment.experiment_id]), name
        if kind == "image_classifier":
            assert top.data.tags["dvc_stage"] == f"train@{name}"
            assert "test_accuracy" in top.data.metrics


@pytest.mark.slow
def test_saved_models_load_with_pyfunc_and_score(clone, params):
    import mlflow.pyfunc
    import numpy as np
    import torch

    for name, p in params.experiments["image_classifier"].items():
        test = torch.load(clone / "data" / "splits" / p.dataset / "test.pt")
        model = mlflow.pyfunc.load_model(str(clone / "models" / name))
        manifest = json.loads((clone / "data" / "splits" / p.dataset / "manifest.json").read_text())
        scores = model.predict(test["images"].float().div(255).numpy())
        assert scores.shape == (len(test["labels"]), len(manifest["classes"])), name
        assert scores.dtype == np.float32
        accuracy = (scores.argmax(1) == test["labels"].numpy()).mean()
        metrics = json.loads((clone / "metrics" / f"{name}.json").read_text())
        assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6), name
