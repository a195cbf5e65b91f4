"""Reliability through the real stages in a throwaway copy of the project: bad params, damaged data,
Ctrl-C and resume, a diverging loss, parallel queued experiments, torchrun, a remote tracking server.

The copy runs the real params.yaml shrunk: one CPU thread (two threads on a busy machine make
small models 20x slower), 1000 training images, a CNN with 4 and 8 channels.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from workspace import check, env_for, make_project, mlflow_runs, run, set_params

NAME = "s003-cnn-mnist"
TINY = {
    "runtime.threads": 1,
    "datasets.mnist.test_fraction": 0.7,  # per class: 100 train, 50 val, 350 test images
    f"experiments.{NAME}.epochs": 3,
    f"experiments.{NAME}.model_args": {"channels": [4, 8]},
    "experiments.s003-lstm-mnist.epochs": 1,
    "experiments.s003-lstm-mnist.model_args": {"cell": "lstm", "hidden_size": 8, "num_layers": 1},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("reliability") / "repo", TINY)


@contextmanager
def params_changed(repo: Path, changes: dict):
    """params.yaml with `changes` for the block, the original afterwards."""
    original = (repo / "params.yaml").read_text()
    set_params(repo, changes)
    try:
        yield
    finally:
        (repo / "params.yaml").write_text(original)


def tree_digest(*paths: Path) -> str:
    """One hash over the names, bytes and mtimes of every file under `paths`."""
    h = hashlib.sha256()
    for root in paths:
        for f in sorted(p for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()):
            h.update(f"{f}:{f.stat().st_mtime_ns}:".encode() + f.read_bytes())
    return h.hexdigest()


def stage_lines(stderr: str) -> list[str]:
    """stderr without DVC's own lines: what the stage script printed."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(("ERROR: ", "WARNING: "))]


def test_checkpoint_restores_every_piece_of_state():
    """Guard for the resume test below: the checkpoint really restores every piece of state it holds."""
    from reprozoo import checkpoint
    from reprozoo.train import make_optimizer

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = make_optimizer("adam", model.parameters(), 0.1, {})
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    generator = torch.Generator().manual_seed(5)
    state = checkpoint.capture(model, optimizer, generator, [{"epoch": 1}], "run", 1.5)
    expected = (torch.randperm(10, generator=generator), torch.rand(3))
    fresh = torch.nn.Linear(3, 2)
    fresh_opt = make_optimizer("adam", fresh.parameters(), 0.1, {})
    other = torch.Generator().manual_seed(9)
    torch.manual_seed(123)
    checkpoint.restore(state, fresh, fresh_opt, other)
    assert torch.equal(fresh.weight, model.weight)
    assert fresh_opt.state_dict()["state"][0]["exp_avg"].equal(optimizer.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(torch.randperm(10, generator=other), expected[0]) and torch.equal(torch.rand(3), expected[1])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_raise_interrupted_inside_the_block_only(sig):
    from reprozoo import checkpoint
    from reprozoo.errors import Interrupted

    before = signal.getsignal(sig)
    with pytest.raises(Interrupted) as caught:
        with checkpoint.interruptible():
            os.kill(os.getpid(), sig)
            time.sleep(5)  # the handler runs before this returns
    assert caught.value.signum == sig
    assert signal.getsignal(sig) == before


def interrupt_after_epoch(repo: Path, cmd: list[str], epoch: int, sig: int) -> subprocess.CompletedProcess:
    """Run `cmd`, and once it prints `epoch <epoch>/`, send `sig` to its process group, as Ctrl-C in a terminal does."""
    proc = subprocess.Popen(cmd, cwd=repo, env=env_for(repo), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if f"epoch {epoch}/" in line:
            os.killpg(proc.pid, sig)
            break
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(lines) + out, err)


def test_sigint_checkpoints_and_the_rerun_ends_as_an_uninterrupted_run(project):
    import mlflow.pyfunc

    test_images = torch.load(project / "data" / "splits" / "mnist" / "test.pt")["images"].float().div(255).numpy()

    def outcome() -> tuple[dict, torch.Tensor]:
        metrics = json.loads((project / "metrics" / f"{NAME}.json").read_text())
        scores = mlflow.pyfunc.load_model(str(project / "models" / NAME)).predict(test_images)
        return metrics, torch.from_numpy(scores)

    before = {r.info.run_id for r in mlflow_runs(project, NAME)}
    stopped = interrupt_after_epoch(project, ["dvc", "repro", "-f", "-s", f"train@{NAME}"], 1, signal.SIGINT)
    assert stopped.returncode != 0
    assert f"interrupted: {NAME}: stopped by SIGINT" in stopped.stderr, stopped.stderr
    assert "Traceback" not in stopped.stderr
    checkpoints = list((project / ".reprozoo" / "checkpoints").glob(f"{NAME}-*.pt"))
    assert len(checkpoints) == 1
    [killed] = [r for r in mlflow_runs(project, NAME) if r.info.run_id not in before]
    assert killed.info.status == "KILLED"

    resumed = check(["dvc", "repro", "-f", "-s", f"train@{NAME}"], project)
    assert f"resuming after epoch 1/3" in resumed.stdout
    assert "epoch 1/3" not in resumed.stdout.replace("resuming after epoch 1/3", "")
    assert not list((project / ".reprozoo" / "checkpoints").glob(f"{NAME}-*.pt"))  # consumed
    check(["dvc", "repro", "-f", "-s", f"evaluate@{NAME}"], project)
    resumed_metrics, resumed_scores = outcome()

    check(["dvc", "repro", "-f", "-s", f"train@{NAME}"], project)  # no checkpoint now: from scratch
    check(["dvc", "repro", "-f", "-s", f"evaluate@{NAME}"], project)
    fresh_metrics, fresh_scores = outcome()

    assert torch.equal(resumed_scores, fresh_scores)
    differ = {k for k in fresh_metrics if fresh_metrics[k] != resumed_metrics[k]}
    assert differ <= {"train_seconds", "mlflow_run_id"}, differ
    runs = {r.info.run_id: r for r in mlflow_runs(project, NAME) if r.info.run_id not in before}
    assert len(runs) == 2 and {r.info.status for r in runs.values()} == {"FINISHED"}
    assert runs[killed.info.run_id].data.tags["resumed_after_epoch"] == "1"  # the same run went on
    assert resumed_metrics["mlflow_run_id"] == killed.info.run_id
    assert "RUNNING" not in {r.info.status for r in mlflow_runs(project, NAME)}


@pytest.fixture(scope="module")
def trained(project) -> Path:
    """The project with NAME trained and evaluated (a no-op when the resume test already did it)."""
    check(["dvc", "repro", f"evaluate@{NAME}"], project)
    return project


def produced(repo: Path) -> str:
    return tree_digest(repo / "models" / NAME, repo / "metrics" / f"{NAME}.json", repo / "plots" / NAME)


@pytest.mark.parametrize("key, value, expected", [
    (f"experiments.{NAME}.epochs", "ten", f"error: params.yaml: experiments.{NAME}.epochs: 'ten' is not an integer"),
    (f"experiments.{NAME}.lr", -1, f"error: params.yaml: experiments.{NAME}.lr: -1 is out of range; "
                                   "allowed: a number > 0"),
    (f"experiments.{NAME}.batch_size", 0, f"error: params.yaml: experiments.{NAME}.batch_size: 0 is out of range; "
                                          "allowed: an integer > 0"),
    (f"experiments.{NAME}.learning_rate", 0.1, f"error: params.yaml: experiments.{NAME}.learning_rate: unknown key; "
                                               "allowed: reproduces, dataset, model"),
    (f"experiments.{NAME}.model", "resnet9000", f"error: params.yaml: experiments.{NAME}.model: 'resnet9000' is "
                                               "unknown; allowed: "),
])
def test_bad_params_stop_dvc_repro_with_one_line_and_touch_nothing(trained, key, value, expected):
    before = produced(trained)
    with params_changed(trained, {key: value}):
        result = run(["dvc", "repro", f"evaluate@{NAME}"], trained)
    assert result.returncode != 0
    assert stage_lines(result.stderr) == [stage_lines(result.stderr)[0]] and \
        stage_lines(result.stderr)[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert produced(trained) == before  # DVC deletes outputs before a rerun unless they persist


def test_corrupt_split_file_is_named_with_its_fix(trained):
    path = trained / "data" / "splits" / "mnist" / "train.pt"
    good = path.read_bytes()
    before = produced(trained)
    try:
        path.write_bytes(good[:-100])
        result = run([sys.executable, "stages/train.py", NAME], trained, DVC_STAGE=f"train@{NAME}")
    finally:
        path.write_bytes(good)
    assert result.returncode == 2
    assert stage_lines(result.stderr) == [f"error: {path}: checksum does not match {path.parent / 'manifest.json'} "
                                          "(corrupt or edited); recreate it with: dvc repro --force split@mnist"]
    assert produced(trained) == before


def test_nan_loss_stops_with_one_line_and_a_failed_run(project):
    before = {r.info.run_id for r in mlflow_runs(project, NAME)}
    with params_changed(project, {f"experiments.{NAME}.optimizer": "sgd", f"experiments.{NAME}.lr": 1e30}):
        result = run([sys.executable, "stages/train.py", NAME], project, DVC_STAGE=f"train@{NAME}")
    assert result.returncode == 2
    [line] = stage_lines(result.stderr)
    assert line.startswith("error: training diverged: ") and "lower lr" in line, result.stderr
    [new] = [r for r in mlflow_runs(project, NAME) if r.info.run_id not in before]
    assert new.info.status == "FAILED"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_tracking_server_fails_fast_with_one_line(project):
    port = free_port()  # nothing listens there
    start = time.monotonic()
    result = run([sys.executable, "stages/train.py", NAME], project, DVC_STAGE=f"train@{NAME}",
                 MLFLOW_TRACKING_URI=f"http://user:secret@127.0.0.1:{port}")
    assert result.returncode == 2
    [line] = stage_lines(result.stderr)
    assert line.startswith(f"error: MLFLOW_TRACKING_URI=http://127.0.0.1:{port}: no MLflow server answers"), line
    assert "secret" not in result.stderr + result.stdout
    # Imports on a busy machine take seconds; MLflow's own retries would take minutes.
    assert time.monotonic() - start < 60


def test_queued_experiments_run_in_parallel_into_the_one_store(project):
    lstm = "s003-lstm-mnist"
    for lr in (0.02, 0.03):
        check(["dvc", "exp", "run", "--queue", f"train@{lstm}", "-S", f"experiments.{lstm}.lr={lr}"], project)
    check(["dvc", "queue", "start", "-j", "2"], project)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = check(["dvc", "queue", "status"], project).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert status.count("Success") == 2, status
    runs = mlflow_runs(project, lstm)
    assert sorted(float(r.data.params[f"experiment.lr"]) for r in runs) == [0.02, 0.03]
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert all(r.data.tags["dvc_exp_name"] for r in runs)  # they ran as queued experiments
    assert not list((project / ".dvc" / "tmp").rglob("mlflow.db"))  # no store left in a temp copy
    assert not (project / "models" / lstm).exists()  # each wrote its outputs in its own workspace


def test_torchrun_two_processes_train_and_log_one_run_to_a_server(project, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        ["mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination",
         (tmp_path / "artifacts").as_uri()], cwd=tmp_path, env=env_for(project),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        from reprozoo.tracking import check_server

        deadline = time.monotonic() + 120
        while True:
            try:
                check_server(uri, timeout=2)
                break
            except Exception:
                assert time.monotonic() < deadline and server.poll() is None, "mlflow server did not start"
                time.sleep(1)
        with params_changed(project, {f"experiments.{NAME}.epochs": 2}):
            result = run(["torchrun", "--standalone", "--nproc_per_node=2", "stages/train.py", NAME], project,
                         MLFLOW_TRACKING_URI=uri)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert result.stdout.count("epoch 2/2") == 1  # rank 1 trains silently

        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        [run_] = client.search_runs([client.get_experiment_by_name(NAME).experiment_id])
        assert run_.info.status == "FINISHED" and run_.data.params["experiment.epochs"] == "2"
        history = client.get_metric_history(run_.info.run_id, "train_loss")
        assert [m.step for m in history] == [1, 2] and history[1].value < history[0].value
        assert client.get_metric_history(run_.info.run_id, "val_accuracy")[-1].value > 0.2  # chance is 0.1
        assert json.loads((project / "models" / NAME / "train.json").read_text())["run_id"] == run_.info.run_id
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_a_stage_under_dvc_works_in_its_own_workspace(tmp_path):
    # A queued experiment's workspace is a temp copy; the package may come from the original checkout.
    code = "import reprozoo, reprozoo.tracking as t; print(reprozoo.ROOT); print(t.project_root())"
    workspace = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12"
    workspace.mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", code], cwd=workspace, capture_output=True, text=True, check=True,
                         env={**os.environ, "DVC_STAGE": "train@x", "DVC_ROOT": str(workspace)}).stdout.split()
    assert out == [str(workspace.resolve()), str((tmp_path / "repo").resolve())]


def test_sqlite_lock_errors_are_retried_and_others_are_not():
    from reprozoo.tracking import with_retries

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "ok"

    assert with_retries(flaky) == "ok" and len(calls) == 3
    with pytest.raises(ValueError):
        with_retries(lambda: (calls.append(1), (_ for _ in ()).throw(ValueError("bad")))[1])
    assert len(calls) == 4  # a different error is raised at once


def test_credentials_never_reach_messages():
    from reprozoo.tracking import redact

    assert redact("https://alice:s3cret@mlflow.example.org:8443/x") == "https://mlflow.example.org:8443/x"
    assert redact("sqlite:////repo/mlflow.db") == "sqlite:////repo/mlflow.db"
