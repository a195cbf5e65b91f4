"""Fault injection: SIGKILL a shrunk pipeline at random moments; `dvc repro` must always finish it as if nothing happened.

The project keeps three experiments of different kinds (a CNN with train and evaluate stages, a char-RNN,
the t-SNE probe of the CNN) and the report. A first `dvc repro -f` gives the reference metrics. Then,
KILLS times, `dvc repro -f -s <stage>` (that stage alone, forced: the stages before it would only spend
time) is killed with SIGKILL (its whole process group: DVC and the stage it runs) a seeded random delay
after it starts the stage (train, evaluate, char-RNN, probe, report in turn), and a plain `dvc repro` is
run: it must succeed,
re-derive the reference metrics, leave no MLflow run RUNNING, and leave `dvc status` clean.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from workspace import check, env_for, make_project

pytestmark = pytest.mark.slow

KILLS = 10
SEED = 2026
IC = "experiments.image_classifier"
# Each stage kind in turn (the probe reads the CNN; the report reads all), each kill a seeded delay into it.
TARGETS = ["train@s003-cnn-mnist", "evaluate@s003-cnn-mnist", "char-rnn@s002-char-rnn-rnn", "probe@s003-cnn-tsne",
           "report"]
KEEP = {"image_classifier": ["s003-cnn-mnist"], "char_rnn": ["s002-char-rnn-rnn"], "probe": ["s003-cnn-tsne"]}
SHRINK = {
    "runtime.threads": 1,
    "datasets.mnist.test_fraction": 0.7,
    "datasets.cifar10.test_fraction": 0.7,
    "backbones.lenet-digits.epochs": 1,
    f"{IC}.s003-cnn-mnist.epochs": 15,  # a few seconds of training, so some kills land in it
    f"{IC}.s003-cnn-mnist.model_args": {"channels": [4, 8]},
    "experiments.char_rnn.s002-char-rnn-rnn.epochs": 300,
    "experiments.probe.s003-cnn-tsne.samples": 60,
    "spread": {"seeds": [], "experiments": {}},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    repo = make_project(tmp_path_factory.mktemp("faults") / "repo", SHRINK)
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    raw["experiments"] = {kind: {n: entries[n] for n in KEEP.get(kind, [])} for kind, entries in raw["experiments"].items()}
    raw["datasets"] = {k: raw["datasets"][k] for k in ("mnist", "cifar10")}
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    check(["git", "add", "-A"], repo)
    check(["git", "commit", "-qm", "shrunk"], repo)
    return repo


def figures(repo: Path) -> dict:
    """Every experiment's numbers but the wall clock."""
    out = {}
    for path in sorted((repo / "metrics").glob("s*.json")):
        out[path.stem] = {k: v for k, v in json.loads(path.read_text()).items() if k != "train_seconds"}
    return out


def running_runs(repo: Path) -> list[str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return [r.info.run_id for r in client.search_runs(experiments, "attributes.status = 'RUNNING'")]


def repro(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """`dvc repro`, to its end."""
    proc = subprocess.run(["dvc", "repro", *args], cwd=repo, env=env_for(repo), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900)
    return proc


def repro_killed(repo: Path, target: str, delay: float) -> str:
    """`dvc repro -f -s target` in its own process group, SIGKILLed `delay` s after it starts the stage;
    where the kill landed: in the stage, or that the repro had ended first."""
    proc = subprocess.Popen(["dvc", "repro", "-f", "-s", target], cwd=repo, env=env_for(repo),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    timer = threading.Timer(delay, os.killpg, (proc.pid, signal.SIGKILL))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if f"Running stage '{target}'" in line:
            timer.start()
    proc.wait(timeout=900)
    timer.cancel()
    if proc.returncode != -signal.SIGKILL:
        return f"aimed at {target}, the repro ended first"
    stages = re.findall(r"Running stage '([^']+)'", "".join(lines))
    return f"in {stages[-1]}" if stages else "before the first stage"


def test_sigkill_at_random_moments_never_loses_or_changes_a_result(project):
    first = repro(project, "-f")
    assert first.returncode == 0, first.stdout[-3000:]
    reference = figures(project)
    assert set(reference) == {n for names in KEEP.values() for n in names}
    rng = random.Random(SEED)
    outcomes = []
    for i in range(KILLS):
        target = TARGETS[i % len(TARGETS)]
        delay = rng.uniform(*((3.0, 8.0) if target.startswith("train") else (0.2, 4.0)))  # training: past its start
        stage = repro_killed(project, target, delay)
        done = repro(project)
        assert done is not None and done.returncode == 0, f"kill {i} at {delay:.1f} s: {done.stdout[-3000:]}"
        assert figures(project) == reference, f"kill {i} at {delay:.1f} s changed a result"
        left = running_runs(project)
        if left:  # only a killed training whose outputs DVC's run-cache put back: no stage ran to end its run
            assert f"Stage '{target}' is cached - skipping run" in done.stdout and target.startswith("train@"), \
                f"kill {i} at {delay:.1f} s left a RUNNING run: {left}\n{done.stdout[-3000:]}"
            swept = check(["python", "-m", "reprozoo.ledger.dead_runs"], project).stdout  # what `make repro` runs first
            assert all(run_id in swept for run_id in left), swept
            assert not running_runs(project), f"kill {i}: the sweep left a RUNNING run"
        status = check(["dvc", "status"], project).stdout
        assert "up to date" in status, f"kill {i} at {delay:.1f} s: dvc status: {status}"
        resumed = "resuming after epoch" in done.stdout
        outcomes.append(f"kill {i}: {delay:.1f} s into {target} ({stage}); repro ran "
                        f"{done.stdout.count('Running stage')} stage(s), restored "
                        f"{done.stdout.count('is cached - skipping run')} from the run-cache"
                        f"{', resumed a training from its checkpoint' if resumed else ''}"
                        f"{f', {len(left)} dead run(s) RUNNING, ended by the sweep' if left else ''}")
    print("\n".join(outcomes))
