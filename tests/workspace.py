"""A throwaway copy of this checkout (a git + DVC repository of its own) for tests that run real stages."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from reprozoo import ROOT

# What a stage needs; copied from the working tree, so uncommitted code is what gets tested.
COPIED = ("src/reprozoo", "stages", "dvc.yaml", "params.yaml", "params.schema.json", ".gitignore", ".dvcignore")
# Test projects read MNIST from the embedded 5k subset: offline, and seconds instead of the full set.
OFFLINE = {"datasets.mnist.source": "embedded", "datasets.mnist.val_fraction": 0.1,
           # the transfer stand-in's backbone, which every image classifier's train stage lists as a dep
           "datasets.cifar10.test_fraction": 0.7, "backbones.lenet-digits.epochs": 1}


def env_for(repo: Path, **extra: str) -> dict[str, str]:
    """The environment a user of `repo` would have: the venv's tools, the copy's code, the repo's own store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(repo / "src")  # the copy's code, not the checkout's editable install
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run(cmd: list[str], repo: Path, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
    """Run a command in `repo` and capture its output as text; on a time-out its whole process group
    (DVC and the stage it started) is killed, so no stage outlives the test."""
    proc = subprocess.Popen(cmd, cwd=repo, env=env_for(repo, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def check(cmd: list[str], repo: Path, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
    """run(), failing the test with the command's output when it exits non-zero."""
    result = run(cmd, repo, timeout, **extra)
    assert result.returncode == 0, f"{cmd}: {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def set_params(repo: Path, changes: dict[str, object]) -> None:
    """Edit params.yaml in `repo`: {'experiments.image_classifier.x.epochs': 2} sets one dotted key each;
    the value None deletes the key."""
    path = repo / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = raw
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def make_project(dest: Path, changes: dict[str, object] | None = None) -> Path:
    """Copy the checkout into `dest`, git init + dvc init, apply param changes (on top of OFFLINE), commit,
    run the MNIST split and backbone stages."""
    dest.mkdir(parents=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    set_params(dest, {**OFFLINE, **(changes or {})})
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["dvc", "config", "core.analytics", "false"],
                ["dvc", "repro", "-q", "split@mnist", "backbone@lenet-digits"], ["git", "add", "-A"],
                ["git", "commit", "-qm", "project"]):
        check(cmd, dest)
    return dest


def mlflow_runs(repo: Path, experiment: str, spread: bool = False) -> list:
    """The runs of one MLflow experiment in `repo`'s mlflow.db (none when it does not exist); the spread
    runs of other training seeds only when `spread` is true."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    if not found:
        return []
    # Top-level runs only: a nested run (one optimizer of several) belongs to its parent.
    return [r for r in client.search_runs([found.experiment_id]) if "mlflow.parentRunId" not in r.data.tags
            and (spread or "reprozoo.spread_seed" not in r.data.tags)]
