"""Sharing through a DVC remote, as a team would: a shared folder (standing in for an NFS or SSH share) as
the default remote, a bare git repository as `origin`; one member runs and pushes, a second clone pulls
the models, splits and results without retraining, and a DVC experiment travels by `dvc exp push/pull`.

The recipe this checks is the one in docs/reliability.md, "Sharing results in a team".
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from workspace import check, env_for, make_project, run

pytestmark = pytest.mark.slow

NAME = "s003-cnn-mnist"
IC = "experiments.image_classifier"
TINY = {
    "runtime.threads": 1,  # two threads on a busy machine make small models 20x slower
    "datasets.mnist.test_fraction": 0.7,  # per class: 100 train, 50 val, 350 test images
    "datasets.cifar10.test_fraction": 0.7,  # the backbone's stand-in data, upstream of train@
    "backbones.lenet-digits.epochs": 1,
    f"{IC}.{NAME}.epochs": 2,
    f"{IC}.{NAME}.model_args": {"channels": [4, 8]},
}
EXP_LR = 0.002
UP_TO_DATE = "Data and pipelines are up to date."


def check_stages(cmd: list[str], repo: Path, timeout: int) -> subprocess.CompletedProcess:
    """check() for a command that runs stages: on a timeout the whole process group goes, not DVC alone
    (a stage whose DVC was killed would go on training as an orphan)."""
    proc = subprocess.Popen(cmd, cwd=repo, env=env_for(repo), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{cmd}: no end after {timeout} s\n{out[-3000:]}\n{err[-3000:]}")
    assert proc.returncode == 0, f"{cmd}: {proc.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def digest(*paths: Path) -> str:
    """One hash over the relative names and bytes of every file under `paths` (no mtimes: a pull writes new files)."""
    h = hashlib.sha256()
    for root in paths:
        for f in sorted(p for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()):
            h.update(f"{f.relative_to(root.parent)}:".encode() + f.read_bytes())
    return h.hexdigest()


def shared_outputs(repo: Path) -> list[Path]:
    """What the second clone should get from the remote: the model, the splits, the results, and (by git) metrics."""
    return [repo / "models" / NAME, repo / "data" / "splits" / "mnist", repo / "results" / NAME,
            repo / "metrics" / f"{NAME}.json"]


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> SimpleNamespace:
    """The first member's project, run once and pushed: `dvc push` to the shared folder, `git push` to origin."""
    base = tmp_path_factory.mktemp("remote")
    repo = make_project(base / "repo", TINY)
    remote, origin = base / "dvc-remote", base / "origin.git"
    remote.mkdir()
    check(["dvc", "remote", "add", "-d", "team", str(remote)], repo)
    check(["git", "add", ".dvc/config"], repo)
    check(["git", "commit", "-qm", "team remote"], repo)

    check_stages(["dvc", "repro", f"evaluate@{NAME}"], repo, timeout=300)
    check(["git", "add", "dvc.lock", "metrics", "plots"], repo)
    check(["git", "commit", "-qm", f"run {NAME}"], repo)
    check(["dvc", "push"], repo, timeout=120)

    check(["git", "init", "-q", "--bare", "--initial-branch=main", str(origin)], base)
    check(["git", "remote", "add", "origin", str(origin)], repo)
    check(["git", "push", "-q", "origin", "HEAD:main"], repo)
    return SimpleNamespace(base=base, repo=repo, remote=remote, origin=origin)


@pytest.fixture(scope="module")
def member(team) -> Path:
    """A second member's clone of the team's git repository, after `dvc pull` (not named `clone`: tests
    using that fixture wait for the fresh clone's repro, at the end of the session)."""
    repo = team.base / "clone"
    check(["git", "clone", "-q", str(team.origin), str(repo)], team.base)
    assert not (repo / "models").exists()  # git carries dvc.lock and metrics, not the models
    # Only part of dvc.yaml ran here, so dvc.lock has no hash for the other stages' outputs: a plain
    # `dvc pull` pulls all it can but exits 1 naming them. --allow-missing skips them (after a full run,
    # as on main, plain `dvc pull` is enough).
    check(["dvc", "pull", "--allow-missing"], repo, timeout=120)
    return repo


def test_push_fills_the_shared_folder(team):
    assert any(p.is_file() for p in team.remote.rglob("*"))
    status = check(["dvc", "status", "--cloud"], team.repo, timeout=120)
    assert "Cache and remote 'team' are in sync." in status.stdout, status.stdout


def test_clone_pulls_models_splits_results_and_runs_nothing(team, member):
    for theirs, ours in zip(shared_outputs(team.repo), shared_outputs(member)):
        assert ours.exists(), f"{ours.relative_to(member)} did not arrive"
        assert digest(ours) == digest(theirs), f"{ours.relative_to(member)} differs from the pushed one"
    assert (member / "models" / NAME / "MLmodel").is_file()
    assert {p.name for p in (member / "data" / "splits" / "mnist").iterdir()} >= {"train.pt", "test.pt"}

    status = check(["dvc", "status", "--with-deps", f"evaluate@{NAME}"], member, timeout=120)
    assert UP_TO_DATE in status.stdout, status.stdout
    repro = check_stages(["dvc", "repro", f"evaluate@{NAME}"], member, timeout=120)
    assert "Running stage" not in repro.stdout + repro.stderr, repro.stdout
    assert not (member / "mlflow.db").exists()  # no stage ran, so nothing was tracked


def checkout_failures(stderr: str) -> list[str]:
    """The targets of DVC's "Checkout failed for following targets:" error, one a line up to its hint."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if "Checkout failed for following targets:" in line), None)
    if start is None:
        return []
    targets = []
    for line in lines[start + 1:]:
        if line.startswith("Is your cache up to date?"):
            break
        targets.append(line.strip())
    return targets


def experiments_in(show: list[dict]) -> dict[str, dict]:
    """`dvc exp show --json`: {experiment name: its data (params, metrics, ...)} over every baseline."""
    found = {}
    for baseline in show:
        for exp_range in baseline.get("experiments") or []:
            for state in exp_range["revs"]:
                found[state["name"] or exp_range.get("name")] = state["data"]
    return found


def test_experiment_travels_by_exp_push_and_pull(team, member):
    # With no target, `dvc exp run` would run every stage of dvc.yaml, as `dvc repro` does.
    check_stages(["dvc", "exp", "run", f"evaluate@{NAME}", "-S", f"{IC}.{NAME}.lr={EXP_LR}"], team.repo, timeout=300)
    [name] = check(["dvc", "exp", "ls", "--name-only"], team.repo).stdout.split()
    metrics = json.loads((team.repo / "metrics" / f"{NAME}.json").read_text())  # the experiment's, in the workspace

    check(["dvc", "exp", "push", "origin", name], team.repo, timeout=120)
    assert name in check(["dvc", "exp", "ls", "--name-only", "origin"], team.repo).stdout.split()

    check(["dvc", "exp", "pull", "origin", name], member, timeout=120)
    shown = experiments_in(json.loads(check(["dvc", "exp", "show", "--json"], member, timeout=120).stdout))
    assert name in shown, sorted(shown)
    pulled = shown[name]
    assert pulled["metrics"][f"metrics/{NAME}.json"]["data"]["test_accuracy"] == metrics["test_accuracy"]
    assert pulled["params"]["params.yaml"]["data"]["experiments"]["image_classifier"][NAME]["lr"] == EXP_LR

    # exp push also pushed the experiment's cached outputs, and exp pull fetched them: apply needs no rerun.
    # Like a plain `dvc pull`, `dvc exp apply` ends with an error (exit 255) when dvc.lock has no hash for
    # some outputs, i.e. when part of dvc.yaml never ran, as here; it has applied everything else by then.
    baseline_model = digest(member / "models" / NAME)
    result = run(["dvc", "exp", "apply", name], member, timeout=120)
    if result.returncode != 0:
        never_ran = checkout_failures(result.stderr)
        assert never_ran, f"dvc exp apply: {result.returncode}\n{result.stderr[-3000:]}"
        lock = (member / "dvc.lock").read_text()
        assert not [t for t in never_ran if f"path: {t}\n" in lock or t.startswith(
            (f"models/{NAME}", f"results/{NAME}", "data/splits/mnist"))], never_ran
    assert json.loads((member / "metrics" / f"{NAME}.json").read_text()) == metrics
    applied = yaml.safe_load((member / "params.yaml").read_text())
    assert applied["experiments"]["image_classifier"][NAME]["lr"] == EXP_LR
    assert digest(member / "models" / NAME) == digest(team.repo / "models" / NAME) != baseline_model
    status = check(["dvc", "status", "--with-deps", f"evaluate@{NAME}"], member, timeout=120)
    assert UP_TO_DATE in status.stdout, status.stdout
