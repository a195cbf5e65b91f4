"""Reliability through the real stages in a throwaway copy of the project: bad params, damaged data,
Ctrl-C and resume, a diverging loss, parallel queued experiments, torchrun, a remote tracking server.

The copy runs the real params.yaml shrunk: one CPU thread (two threads on a busy machine make
small models 20x slower), 1000 training images, a CNN with 4 and 8 channels.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import pytest
import torch

from reprozoo import ROOT
from workspace import check, env_for, make_project, mlflow_runs, run, set_params

pytestmark = pytest.mark.slow  # real stages and pipelines, minutes

NAME = "s003-cnn-mnist"
IC = "experiments.image_classifier"
TINY = {
    "runtime.threads": 1,
    "datasets.mnist.test_fraction": 0.7,  # per class: 100 train, 50 val, 350 test images
    f"{IC}.{NAME}.epochs": 3,
    f"{IC}.{NAME}.model_args": {"channels": [4, 8]},
    f"{IC}.s003-lstm-mnist.epochs": 1,
    f"{IC}.s003-lstm-mnist.model_args": {"cell": "lstm", "hidden_size": 8, "num_layers": 1},
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


def tree_digest(*paths: Path, mtimes: bool = True) -> str:
    """One hash over the names, bytes (and mtimes) of every file under `paths`."""
    h = hashlib.sha256()
    for root in paths:
        for f in sorted(p for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()):
            h.update(f"{f}:{f.stat().st_mtime_ns if mtimes else ''}:".encode() + f.read_bytes())
    return h.hexdigest()


def stage_lines(stderr: str) -> list[str]:
    """stderr without DVC's own lines: what the stage script printed."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(("ERROR: ", "WARNING: "))]


def test_checkpoint_restores_every_piece_of_state():
    """Guard for the resume test below: the checkpoint really restores every piece of state it holds."""
    from reprozoo.training import checkpoint
    from reprozoo.training.optim import make_optimizer

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = make_optimizer("adam", model.parameters(), 0.1, {})
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    generator = torch.Generator().manual_seed(5)
    state = checkpoint.capture(model, optimizer, generator)
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
    from reprozoo.training import checkpoint
    from reprozoo.config.errors import Interrupted

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
    resumed_run_id = json.loads((project / "results" / NAME / "run.json").read_text())["mlflow_run_id"]

    check(["dvc", "repro", "-f", "-s", f"train@{NAME}"], project)  # no checkpoint now: from scratch
    check(["dvc", "repro", "-f", "-s", f"evaluate@{NAME}"], project)
    fresh_metrics, fresh_scores = outcome()

    assert torch.equal(resumed_scores, fresh_scores)
    differ = {k for k in fresh_metrics if fresh_metrics[k] != resumed_metrics[k]}
    assert differ <= {"train_seconds"}, differ
    runs = {r.info.run_id: r for r in mlflow_runs(project, NAME) if r.info.run_id not in before}
    assert len(runs) == 2 and {r.info.status for r in runs.values()} == {"FINISHED"}
    assert runs[killed.info.run_id].data.tags["resumed_after_epoch"] == "1"  # the same run went on
    assert resumed_run_id == killed.info.run_id
    assert "RUNNING" not in {r.info.status for r in mlflow_runs(project, NAME)}


@pytest.fixture(scope="module")
def trained(project) -> Path:
    """The project with NAME trained and evaluated (a no-op when the resume test already did it)."""
    check(["dvc", "repro", f"evaluate@{NAME}"], project)
    return project


def everything(repo: Path) -> str:
    """Every output in the workspace, with its mtime: what a failed `dvc repro` must leave alone."""
    return tree_digest(*(repo / d for d in ("data", "models", "metrics", "plots", "results") if (repo / d).exists()))


def produced(repo: Path) -> str:
    return tree_digest(repo / "models" / NAME, repo / "metrics" / f"{NAME}.json", repo / "plots" / NAME,
                       repo / "results" / NAME, mtimes=False)


@pytest.mark.parametrize("key, value, expected", [
    (f"{IC}.{NAME}.epochs", "ten", f"error: params.yaml: {IC}.{NAME}.epochs: 'ten': allowed: a valid integer"),
    (f"{IC}.{NAME}.lr", -1, f"error: params.yaml: {IC}.{NAME}.lr: -1: allowed: greater than 0"),
    (f"{IC}.{NAME}.batch_size", 0, f"error: params.yaml: {IC}.{NAME}.batch_size: 0: allowed: greater than 0"),
    (f"{IC}.{NAME}.learning_rate", 0.1, f"error: params.yaml: {IC}.{NAME}.learning_rate: unknown key; "
                                        "allowed: reproduces, seed, deviation, dataset, model"),
    (f"{IC}.{NAME}.model", "resnet9000", f"error: params.yaml: {IC}.{NAME}: model 'resnet9000' is unknown; "
                                         "registered: "),
])
def test_bad_params_stop_dvc_repro_with_one_line_and_lose_nothing(trained, key, value, expected):
    before = everything(trained)
    with params_changed(trained, {key: value}):
        result = run(["dvc", "repro", f"evaluate@{NAME}"], trained)
    assert result.returncode != 0
    assert stage_lines(result.stderr) == [stage_lines(result.stderr)[0]] and \
        stage_lines(result.stderr)[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # Stopped by check-params, upstream of every stage: nothing was deleted or touched, and with the typo
    # gone nothing needs to run.
    assert re.findall(r"Running stage '([^']+)'", result.stdout) == ["check-params"], result.stdout
    assert everything(trained) == before
    restored = check(["dvc", "repro", f"evaluate@{NAME}"], trained)
    assert "Running stage" not in restored.stdout, restored.stdout


def test_a_typo_in_every_kind_is_one_line_each_and_touches_no_output(trained):
    """An unknown key in the first experiment of each kind of the registry: `dvc repro` names each one."""
    from reprozoo.config.params import load_params
    from reprozoo.tasks import kinds

    names = load_params(trained / "params.yaml").names()
    first = {kind: next(n for n, k in names.items() if k == kind) for kind in kinds()}
    keys = {kind: f"experiments.{kind}.{name}.lerning_rate" for kind, name in first.items()}
    before = everything(trained)
    with params_changed(trained, {key: 0.1 for key in keys.values()}):
        result = run(["dvc", "repro"], trained)
    assert result.returncode != 0
    lines = stage_lines(result.stderr)
    assert len(lines) == len(keys), result.stderr
    for key in keys.values():
        assert any(line.startswith(f"error: params.yaml: {key}: unknown key; allowed: ") for line in lines), \
            (key, result.stderr)
    assert re.findall(r"Running stage '([^']+)'", result.stdout) == ["check-params"], result.stdout
    assert everything(trained) == before


def outputs_of(repo: Path, name: str) -> dict[str, object]:
    """A classifier's outputs but what names its MLflow run or a time: every figure, table and tensor."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if "mlflow" not in k and "seconds" not in k}
        return [plain(v) for v in value] if isinstance(value, list) else value

    found = {}
    for path in sorted([repo / "metrics" / f"{name}.json", *(repo / "results" / name).rglob("*"),
                        *(repo / "plots" / name).rglob("*")]):
        if path.is_dir():
            continue
        key = str(path.relative_to(repo))
        if path.suffix == ".json":
            found[key] = plain(json.loads(path.read_text()))
        elif path.name == "history.csv":  # its seconds column is the wall clock
            rows = [line.split(",") for line in path.read_text().splitlines()]
            keep = [i for i, column in enumerate(rows[0]) if column != "seconds"]
            found[key] = [[row[i] for i in keep] for row in rows]
        else:
            found[key] = path.read_bytes()
    return found


def test_the_ledger_decides_no_byte_tracking_to_another_store_with_progress_on_a_terminal(trained, tmp_path):
    """Why the ledger (src/reprozoo/ledger) is in no stage's deps: NAME retrained and scored with its runs in
    another MLflow store and its progress shown as on a terminal (script(1) gives it one) writes the
    same figures, tables, tensors and pictures, bit for bit, as the trained project's."""
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts", ".dvc"))
    store, seen = f"sqlite:///{tmp_path / 'other.db'}", ""
    for phase in ("train", "evaluate"):
        result = run(["script", "-qec", f"python stages/run.py {NAME} {phase}", "/dev/null"], copy,
                     MLFLOW_TRACKING_URI=store)
        assert result.returncode == 0, result.stdout[-3000:]
        seen += result.stdout
    assert f"[{NAME}] epoch 1/" not in seen, seen[-2000:]  # on a terminal: bars, not the lines a log gets
    mine = outputs_of(copy, NAME)
    assert {"metrics/s003-cnn-mnist.json", "plots/s003-cnn-mnist/history.csv"} <= set(mine) and len(mine) > 4
    assert mine == outputs_of(trained, NAME)


def test_going_back_to_earlier_params_restores_from_the_run_cache(trained):
    stage, lr = f"evaluate@{NAME}", f"{IC}.{NAME}.lr"
    for value in (0.002, 0.003):
        check(["dvc", "exp", "run", stage, "-S", f"{lr}={value}"], trained)
        if value == 0.002:
            first = produced(trained)
    start = time.monotonic()
    back = check(["dvc", "exp", "run", stage, "-S", f"{lr}=0.002"], trained)
    seconds = time.monotonic() - start
    assert f"Stage 'train@{NAME}' is cached - skipping run" in back.stdout, back.stdout
    assert f"Stage 'evaluate@{NAME}' is cached - skipping run" in back.stdout, back.stdout
    assert produced(trained) == first
    print(f"run-cache restore of train@ and evaluate@{NAME}: {seconds:.1f} s")
    check(["dvc", "exp", "run", stage, "-S", f"{lr}=0.001"], trained)  # params.yaml's own lr again


def test_corrupt_split_file_is_named_with_its_fix(trained):
    path = trained / "data" / "splits" / "mnist" / "train.pt"
    good = path.read_bytes()
    before = produced(trained)
    try:
        path.write_bytes(good[:-100])
        result = run([sys.executable, "stages/run.py", NAME, "train"], trained, DVC_STAGE=f"train@{NAME}")
    finally:
        path.write_bytes(good)
    assert result.returncode == 2
    assert stage_lines(result.stderr) == [f"error: {path}: checksum does not match {path.parent / 'manifest.json'} "
                                          "(corrupt or edited); recreate it with: dvc repro --force split@mnist"]
    assert produced(trained) == before


def test_nan_loss_stops_with_one_line_and_a_failed_run(project):
    before = {r.info.run_id for r in mlflow_runs(project, NAME)}
    with params_changed(project, {f"{IC}.{NAME}.optimizer": "sgd", f"{IC}.{NAME}.lr": 1e30}):
        result = run([sys.executable, "stages/run.py", NAME, "train"], project, DVC_STAGE=f"train@{NAME}")
    assert result.returncode == 2
    [line] = stage_lines(result.stderr)
    assert line.startswith("error: training diverged: ") and "lower lr" in line, result.stderr
    [new] = [r for r in mlflow_runs(project, NAME) if r.info.run_id not in before]
    assert new.info.status == "FAILED"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_tracking_server_down_at_the_start_is_waited_for_then_one_line_with_a_teams_advice(project):
    """As in a stage's middle: REPROZOO_SERVER_WAIT_S of waiting, then one line that sends a team to its server
    (make team-server) or to logging alone (the three variables unset), never to a server without auth."""
    port = free_port()  # nothing listens there
    start = time.monotonic()
    result = run([sys.executable, "stages/run.py", NAME, "train"], project, DVC_STAGE=f"train@{NAME}",
                 MLFLOW_TRACKING_URI=f"http://user:secret@127.0.0.1:{port}", REPROZOO_SERVER_WAIT_S="6")
    assert result.returncode == 2
    [line] = stage_lines(result.stderr)
    assert line.startswith(f"error: MLFLOW_TRACKING_URI=http://127.0.0.1:{port}: no MLflow server answers in 6 s "
                           "(REPROZOO_SERVER_WAIT_S)"), line
    assert "make team-server" in line and "unset MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME and " \
        "MLFLOW_TRACKING_PASSWORD" in line and "mlflow server" not in line, line
    assert "secret" not in result.stderr + result.stdout
    assert 6 <= time.monotonic() - start < 60  # waited; MLflow's own retries would take minutes


def stub_server(answer: Callable[[str], tuple[int, bytes]], port: int = 0):
    """An HTTP server on loopback answering every GET and POST with answer(path) -> (status, body), serving in a
    thread; shut it down with .shutdown()."""
    import http.server
    import threading

    class Stub(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = answer(self.path)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_tracking_server_that_comes_up_during_the_wait_is_used(monkeypatch):
    """A client started a few seconds before its server (a team's machines booting together) goes on."""
    import threading

    from reprozoo.ledger.tracking import check_server

    port = free_port()
    monkeypatch.setenv("REPROZOO_SERVER_WAIT_S", "60")
    servers = []
    timer = threading.Timer(4, lambda: servers.append(stub_server(lambda path: (200, b"{}"), port)))
    timer.start()
    started = time.monotonic()
    try:
        check_server(f"http://127.0.0.1:{port}", timeout=2)
        assert 4 <= time.monotonic() - started < 40
    finally:
        timer.cancel()
        for server in servers:
            server.shutdown()


def queue_done(project: Path, limit_s: int = 900) -> str:
    """`dvc queue status` once nothing is queued or running (or after `limit_s`)."""
    deadline = time.monotonic() + limit_s
    while True:
        status = check(["dvc", "queue", "status"], project).stdout
        if ("Queued" not in status and "Running" not in status) or time.monotonic() > deadline:
            return status
        time.sleep(3)


QUEUED = {  # four experiments of four kinds, each with one param changed: (stage, param, value)
    "s003-lstm-mnist": ("train@s003-lstm-mnist", f"{IC}.s003-lstm-mnist.lr", 0.02),
    "s002-char-rnn-cell": ("char-rnn@s002-char-rnn-cell", "experiments.char_rnn.s002-char-rnn-cell.lr", 0.2),
    "s003-rnn-regression": ("sin-cos@s003-rnn-regression", "experiments.sin_cos.s003-rnn-regression.lr", 0.03),
    "s002-breast-cancer-mlp-relu": ("tabular-mlp@s002-breast-cancer-mlp-relu",
                                    "experiments.tabular_mlp.s002-breast-cancer-mlp-relu.epochs", 300),
}


def test_queued_experiments_run_in_parallel_into_the_one_store(project):
    before = {name: {r.info.run_id for r in mlflow_runs(project, name)} for name in QUEUED}
    for stage, param, value in QUEUED.values():
        check(["dvc", "exp", "run", "--queue", stage, "-S", f"{param}={value}"], project)
    check(["dvc", "queue", "start", "-j", "4"], project)
    status = queue_done(project)
    assert status.count("Success") == 4, status
    for name, (stage, param, value) in QUEUED.items():
        runs = [r for r in mlflow_runs(project, name) if r.info.run_id not in before[name]]
        assert len(runs) == 1 and runs[0].info.status == "FINISHED", (name, [r.info.status for r in runs])
        [run_] = runs
        assert float(run_.data.params[f"experiment.{param.rsplit('.', 1)[1]}"]) == value, name
        assert run_.data.tags["dvc_exp_name"] and run_.info.run_name == run_.data.tags["dvc_exp_name"]
        assert run_.data.tags.get("dvc_exp_baseline_rev"), name  # the commit the DVC experiment started from
    assert not list((project / ".dvc" / "tmp").rglob("mlflow.db"))  # no store left in a temp copy
    assert not (project / "models" / "s003-lstm-mnist").exists()  # each wrote its outputs in its own workspace


def test_the_readme_sweep_trains_once_per_setting_and_runs_no_spread(project):
    """The README's sweep command, its settings swapped for two learning rates of NAME (whose spread retrains
    it with 3 more seeds): two training runs, each scored, no spread run, and `dvc exp show` has both."""
    from test_readme import readme_commands

    [sweep] = [c for c in readme_commands((ROOT / "README.md").read_text()) if c.startswith("dvc exp run --queue")]
    words = shlex.split(sweep)
    command = [w for i, w in enumerate(words) if w != "-S" and (i == 0 or words[i - 1] != "-S")]
    assert command == ["dvc", "exp", "run", "--queue", f"evaluate@{NAME}"], sweep
    before = {r.info.run_id for r in mlflow_runs(project, NAME, spread=True)}
    check([*command, "-S", f"{IC}.{NAME}.lr=0.0007,0.0013"], project)
    check(["dvc", "queue", "start", "-j", "1"], project)
    status = queue_done(project)
    assert "Failed" not in status, status
    new = [r for r in mlflow_runs(project, NAME, spread=True) if r.info.run_id not in before]
    assert not [r for r in new if "reprozoo.spread_seed" in r.data.tags], "a sweep ran a spread seed"
    assert sorted(float(r.data.params["experiment.lr"]) for r in new) == [0.0007, 0.0013]
    assert all(r.info.status == "FINISHED" and "test_accuracy" in r.data.metrics for r in new)
    shown = check(["dvc", "exp", "show", "--csv"], project).stdout
    assert "0.0007" in shown and "0.0013" in shown and "test_accuracy" in shown


def test_torchrun_two_processes_train_and_log_one_run_to_a_server(project, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        ["mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination",
         (tmp_path / "artifacts").as_uri()], cwd=tmp_path, env=env_for(project),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        from reprozoo.ledger.tracking import check_server

        deadline = time.monotonic() + 120
        while True:
            try:
                check_server(uri, timeout=2)
                break
            except Exception:
                assert time.monotonic() < deadline and server.poll() is None, "mlflow server did not start"
                time.sleep(1)
        with params_changed(project, {f"{IC}.{NAME}.epochs": 2}):
            result = run(["torchrun", "--standalone", "--nproc_per_node=2", "stages/run.py", NAME, "train"], project,
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
        assert json.loads((project / "models" / NAME / "run.json").read_text())["mlflow_run_id"] == run_.info.run_id
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_a_stage_under_dvc_works_in_its_own_workspace(tmp_path):
    # A queued experiment's workspace is a temp copy; the package may come from the original checkout.
    code = "import reprozoo, reprozoo.ledger.tracking as t; print(reprozoo.ROOT); print(t.project_root())"
    workspace = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12"
    workspace.mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", code], cwd=workspace, capture_output=True, text=True, check=True,
                         env={**os.environ, "DVC_STAGE": "train@x", "DVC_ROOT": str(workspace)}).stdout.split()
    assert out == [str(workspace.resolve()), str((tmp_path / "repo").resolve())]


def test_sqlite_lock_errors_are_retried_and_others_are_not():
    from reprozoo.ledger.tracking import with_retries

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


def test_a_server_answering_503_is_waited_for_then_one_line(monkeypatch):
    """MLflow's server answers 503 while its PostgreSQL restarts: the client waits (the team test's restart
    hit this in CI once), and a server that stays away ends in one line after REPROZOO_SERVER_WAIT_S."""
    from mlflow.tracking import MlflowClient

    from reprozoo.config.errors import ReprozooError
    from reprozoo.ledger.tracking import with_retries

    back_at = [time.monotonic() + 4]
    server = stub_server(lambda path: (200, b"{}") if time.monotonic() > back_at[0] else
                         (503, b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "db"}'))
    uri = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("REPROZOO_SERVER_WAIT_S", "30")
    try:
        started = time.monotonic()
        assert with_retries(MlflowClient(uri).search_experiments) == []
        assert time.monotonic() - started >= 4
        back_at[0] = float("inf")
        monkeypatch.setenv("REPROZOO_SERVER_WAIT_S", "3")
        with pytest.raises(ReprozooError, match="the MLflow server stopped answering"):
            with_retries(MlflowClient(uri).search_experiments)
    finally:
        server.shutdown()


def test_a_401_from_a_server_that_took_the_user_is_waited_for_then_one_line(monkeypatch):
    """MLflow's auth app answers 401 when its database drops the query that refreshes its credentials cache
    (PostgreSQL restarting, as in the team test): a user the server took in this process is waited for, as a
    503 is; a 401 at a stage's start is asked 3 times, then one line; a user never taken is one line at once."""
    from mlflow.tracking import MlflowClient

    from reprozoo.config.errors import ReprozooError
    from reprozoo.ledger import remote
    from reprozoo.ledger.tracking import with_retries

    refuse_until = [0.0]
    server = stub_server(lambda path: (200, b"{}") if path == "/health" or time.monotonic() > refuse_until[0] else
                         (401, b"You are not authenticated."))
    uri = f"http://127.0.0.1:{server.server_port}"
    for key, value in (("MLFLOW_TRACKING_URI", uri), ("MLFLOW_TRACKING_USERNAME", "alice"),
                       ("MLFLOW_TRACKING_PASSWORD", "alice-pass-0123"), ("REPROZOO_SERVER_WAIT_S", "30")):
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(remote, "ACCEPTED", set())
    try:
        refuse_until[0] = float("inf")
        started = time.monotonic()
        with pytest.raises(ReprozooError, match=r"^MLFLOW_TRACKING_USERNAME=alice / MLFLOW_TRACKING_PASSWORD: "
                                                r"the MLflow server at .* refused them \(401\)"):
            with_retries(MlflowClient(uri).search_experiments)  # never taken: at once
        assert time.monotonic() - started < 2
        with pytest.raises(ReprozooError, match=r"refused them \(401\)"):
            remote.check_server(uri)  # asked 3 times, 2 s apart
        assert 4 <= time.monotonic() - started < 10 and not remote.accepted(uri)
        refuse_until[0] = time.monotonic() + 3
        remote.check_server(uri)  # back within its 3 asks
        assert remote.accepted(uri)
        refuse_until[0] = time.monotonic() + 4
        started = time.monotonic()
        assert with_retries(MlflowClient(uri).search_experiments) == []
        assert time.monotonic() - started >= 4
        refuse_until[0] = float("inf")
        monkeypatch.setenv("REPROZOO_SERVER_WAIT_S", "3")
        with pytest.raises(ReprozooError, match=r"refused them \(401\)"):
            with_retries(MlflowClient(uri).search_experiments)
    finally:
        server.shutdown()


def test_credentials_never_reach_messages():
    from reprozoo.ledger.tracking import redact

    assert redact("https://alice:s3cret@mlflow.example.org:8443/x") == "https://mlflow.example.org:8443/x"
    assert redact("sqlite:////repo/mlflow.db") == "sqlite:////repo/mlflow.db"


def kill_on_line(repo: Path, cmd: list[str], marker: str) -> None:
    """Run `cmd` and SIGKILL its process group once it prints `marker`: what the OOM killer or a power cut does."""
    proc = subprocess.Popen(cmd, cwd=repo, env=env_for(repo), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    for line in proc.stdout:
        if marker in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, f"{cmd} ended before {marker!r}"


def test_a_hard_kill_resumes_into_the_same_run_from_the_last_epoch(project):
    before = {r.info.run_id for r in mlflow_runs(project, NAME)}
    kill_on_line(project, [sys.executable, "stages/run.py", NAME, "train"], "epoch 1/3")
    [zombie] = [r for r in mlflow_runs(project, NAME) if r.info.run_id not in before]
    assert zombie.info.status == "RUNNING"  # nobody could end it
    assert list((project / ".reprozoo" / "checkpoints").glob(f"{NAME}-*.pt"))  # written at the epoch's end
    resumed = check([sys.executable, "stages/run.py", NAME, "train"], project)
    assert "resuming after epoch 1/3" in resumed.stdout
    [run] = [r for r in mlflow_runs(project, NAME) if r.info.run_id not in before]
    assert run.info.run_id == zombie.info.run_id and run.info.status == "FINISHED"
    assert run.data.tags["resumed_after_epoch"] == "1"


def test_a_dead_processes_run_is_ended_killed_and_a_live_ones_is_not(project):
    name = "s002-breast-cancer-mlp"  # 10 000 full-batch epochs: seconds, a line every 100
    cmd = [sys.executable, "stages/run.py", name]
    before = {r.info.run_id for r in mlflow_runs(project, name)}
    kill_on_line(project, cmd, "epoch 100/")
    [zombie] = [r for r in mlflow_runs(project, name) if r.info.run_id not in before]
    assert zombie.info.status == "RUNNING"
    # The next run of it ends the dead one's run; while it runs, a second starts and must leave it alone.
    live = subprocess.Popen(cmd, cwd=project, env=env_for(project), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    for line in live.stdout:
        lines.append(line)
        if "epoch 100/" in line:
            break
    second = check(cmd, project)
    assert "left RUNNING" not in second.stdout, second.stdout
    out, _ = live.communicate(timeout=300)
    assert live.returncode == 0
    assert f"MLflow run {zombie.info.run_id} was left RUNNING by a process that died: ended KILLED" in \
        "".join(lines) + out
    runs = {r.info.run_id: r for r in mlflow_runs(project, name) if r.info.run_id not in before}
    assert sorted(r.info.status for r in runs.values()) == ["FINISHED", "FINISHED", "KILLED"]
    reason = runs[zombie.info.run_id].data.tags["reprozoo.killed_reason"]
    assert f"pid {zombie.data.tags['reprozoo.owner_pid']}" in reason



def test_the_sweep_make_repro_runs_first_ends_only_dead_runs(project):
    # A kill -9 in training whose outputs DVC's run-cache then restores runs no stage that would end
    # the killed attempt's run: `make repro` and `make ui` run reprozoo.ledger.dead_runs first.
    dead, alive = "s002-breast-cancer-mlp", "s002-breast-cancer-mlp-relu"  # another stage: it ends no run of dead's
    before = {r.info.run_id for n in (dead, alive) for r in mlflow_runs(project, n)}
    kill_on_line(project, [sys.executable, "stages/run.py", dead], "epoch 100/")
    [zombie] = [r for r in mlflow_runs(project, dead) if r.info.run_id not in before]
    live = subprocess.Popen([sys.executable, "stages/run.py", alive], cwd=project, env=env_for(project),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in live.stdout:
        if "epoch 100/" in line:
            live.send_signal(signal.SIGSTOP)  # alive but paused: its run stays RUNNING while we look
            break
    try:
        [running] = [r for r in mlflow_runs(project, alive) if r.info.run_id not in before]
        swept = check([sys.executable, "-m", "reprozoo.ledger.dead_runs"], project).stdout
        status = {r.info.run_id: r.info.status for n in (dead, alive) for r in mlflow_runs(project, n)}
    finally:
        live.send_signal(signal.SIGCONT)
    assert swept.splitlines() == [f"MLflow run {zombie.info.run_id} was left RUNNING by a process that died: "
                                  "ended KILLED"], swept
    assert (status[zombie.info.run_id], status[running.info.run_id]) == ("KILLED", "RUNNING")
    live.communicate(timeout=300)
    assert live.returncode == 0

FAST = "s003-rnn-regression"  # a second of training: store faults show before or after it


def stage(repo: Path, **env: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "stages/run.py", FAST], repo, **env)


def test_a_corrupt_store_is_one_line_naming_it(project, tmp_path):
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"this is not an SQLite file" * 100)
    before = produced_by(project, FAST)
    result = stage(project, MLFLOW_TRACKING_URI=f"sqlite:///{store}")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    [line] = stage_lines(result.stderr)
    assert line.startswith(f"error: {store}: the MLflow store is not a readable SQLite database"), line
    assert produced_by(project, FAST) == before


def test_a_read_only_store_is_one_line_naming_it(project, tmp_path):
    store = tmp_path / "ro.db"
    check([sys.executable, "stages/run.py", FAST], project, MLFLOW_TRACKING_URI=f"sqlite:///{store}")  # a real store
    # Opened read-only, as a store on a read-only mount is (file modes do not stop root, who runs CI).
    result = stage(project, MLFLOW_TRACKING_URI=f"sqlite:///file:{store}?mode=ro&uri=true")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    [line] = stage_lines(result.stderr)
    assert line.startswith(f"error: {store}: the MLflow store is read-only"), line


def test_a_store_locked_past_the_retries_is_one_line(project, tmp_path):
    import sqlite3

    store = tmp_path / "locked.db"
    check([sys.executable, "stages/run.py", FAST], project, MLFLOW_TRACKING_URI=f"sqlite:///{store}")
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, and never finishing
    try:
        uri = f"sqlite:///{store}?timeout=1"
        result = stage(project, MLFLOW_TRACKING_URI=uri)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    [line] = stage_lines(result.stderr)
    assert line.startswith(f"error: {store}: the MLflow store stayed locked"), line


def test_a_server_answering_500_is_one_line(project):
    # /health answers, as a running server would; the API fails
    server = stub_server(lambda path: (200, b"OK") if path.startswith("/health") else (500, b"boom"))
    try:
        result = stage(project, MLFLOW_TRACKING_URI=f"http://127.0.0.1:{server.server_port}",
                       MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    finally:
        server.shutdown()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    [line] = stage_lines(result.stderr)
    assert "the MLflow server answered 500" in line, line


def produced_by(repo: Path, name: str) -> str:
    return tree_digest(*(p for p in (repo / "metrics" / f"{name}.json", repo / "plots" / name,
                                     repo / "results" / name) if p.exists()))


def test_a_full_disk_or_unwritable_folder_is_one_line_and_keeps_the_last_outputs(project):
    check([sys.executable, "stages/run.py", FAST], project)
    before = produced_by(project, FAST)
    # A file size limit (ulimit -f, in KiB) stands in for a full disk: every write past it fails.
    limited = run(["bash", "-c", f"ulimit -f 20; exec {sys.executable} stages/run.py {FAST}"], project)
    assert limited.returncode == 2 and "Traceback" not in limited.stderr, limited.stderr[-3000:]
    [line] = stage_lines(limited.stderr)
    assert line.startswith("error: ") and ("File too large" in line or "full" in line), line
    assert produced_by(project, FAST) == before
    assert not list(project.rglob(".*.tmp")), "a half-written temp file was left behind"
    if os.geteuid() == 0:  # root writes through file modes; the size limit above is this test's fault then
        return
    plots = project / "plots" / FAST
    plots.chmod(0o555)
    try:
        denied = run([sys.executable, "stages/run.py", FAST], project)
    finally:
        plots.chmod(0o755)
    assert denied.returncode == 2 and "Traceback" not in denied.stderr, denied.stderr[-3000:]
    [line] = stage_lines(denied.stderr)
    assert line.startswith(f"error: {plots}") and "Permission denied" in line, line


def test_a_stage_started_by_another_python_uses_the_venv_or_says_what_to_do(project, tmp_path):
    """`.venv/bin/dvc repro` from a fresh shell runs `python` = the system's: the stage finds the venv."""
    system_python = "/usr/bin/python3"
    if not Path(system_python).exists():
        pytest.skip("no system python3 to start the stage with")
    # A fresh shell (no venv active, no PYTHONPATH) under DVC, which sets DVC_STAGE: outputs go to the project.
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DVC_STAGE": "split@mnist"}
    venv = Path(sys.executable).parent.parent
    (project / ".venv").symlink_to(venv)  # what `make install` makes in a user's checkout
    try:
        ran = subprocess.run([system_python, "stages/split.py", "mnist"], cwd=project, env=bare, capture_output=True,
                             text=True, timeout=300)
    finally:
        (project / ".venv").unlink()
    assert ran.returncode == 0 and ran.stdout.startswith("split@mnist:"), ran.stderr[-2000:]
    alone = subprocess.run([system_python, "stages/split.py", "mnist"], cwd=project, env=bare, capture_output=True,
                           text=True, timeout=300)
    assert alone.returncode == 1 and "Traceback" not in alone.stderr, alone.stderr
    assert alone.stderr.strip().endswith("make install, then activate it with: source .venv/bin/activate"), alone.stderr
