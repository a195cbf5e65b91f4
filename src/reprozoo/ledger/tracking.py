"""MLflow at the edges: where the store is, which experiment, which tags a run carries."""

from __future__ import annotations

import fcntl
import logging
import os
import random
import re
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from reprozoo import ROOT, project_root
from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.remote import accepted, check_server, credentials_fault, redact, server_wait_s

T = TypeVar("T")

# Progress bars of artifact copies would flood DVC's and CI's logs.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# Runs stay on this machine: MLflow 3 otherwise sends usage telemetry to its maintainers.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow's HTTP client retries 7 times with exponential backoff and waits 120 s per request by
# default: minutes of silence against a server that is down. Users may still set their own.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

# MLflow logs a store's database errors with their traceback before raising them; the raised error
# becomes one line here (store_fault) or keeps its own traceback, so the log would only say it twice.
logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)

# How long SQLite waits for another process's write lock (queued experiments share mlflow.db).
SQLITE_TIMEOUT_S = 60
# MLflow 3's UI opens an experiment on its GenAI overview (traces) unless the experiment says it holds
# model training, which is what every experiment here is: then it opens on the training runs.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the SQLite store mlflow.db at the project root."""
    timeout = os.environ.get("REPROZOO_SQLITE_TIMEOUT", SQLITE_TIMEOUT_S)  # seconds; tests shorten it
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}?timeout={timeout}"


def store_name(uri: str) -> str:
    """The store as a user would name it: the SQLite file's path, else the URI without credentials."""
    if uri.startswith("sqlite:///"):
        return uri[len("sqlite:///"):].split("?", 1)[0].removeprefix("file:")
    return redact(uri)


def is_locked_error(err: BaseException) -> bool:
    """SQLite's 'database is locked' (or busy), however MLflow or SQLAlchemy wrapped it."""
    text = str(err).lower()
    return "database is locked" in text or "database is busy" in text


def with_retries(call: Callable[..., T], *args: Any, attempts: int = 8, **kwargs: Any) -> T:
    """Call an MLflow function, retrying with jittered backoff while SQLite reports a lock, and for up to
    SERVER_WAIT_S while a tracking server refuses connections (restarted, or its database restarting).

    The SQLite busy timeout covers most waits, but a transaction that must upgrade from
    reading to writing gets SQLITE_BUSY at once, and MLflow does not retry it.
    """
    attempt, deadline = 0, None
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as err:
            attempt += 1
            if is_locked_error(err) and attempt < attempts:
                time.sleep(min(8.0, 0.25 * 2 ** attempt) * (0.5 + random.random()))
                continue
            # A refused connection never reached the server; a dropped one may have, and the store drops a metric
            # logged twice with the same key, step, time and value (params and tags are set, not added).
            if is_server_down(err) or is_auth_blip(err):
                deadline = deadline or time.monotonic() + server_wait_s()
                if time.monotonic() < deadline:
                    time.sleep(2)
                    continue
            fault = store_fault(err)
            if fault:
                raise ReprozooError(fault) from None
            raise


def is_server_down(err: BaseException) -> bool:
    """A tracking server that refuses or drops connections, or answers 502/503: a restart, a proxy before it, or
    its database restarting (MLflow answers 503 TEMPORARILY_UNAVAILABLE while PostgreSQL is away)."""
    text = str(err).lower()
    return tracking_uri().startswith("http") and (any(
        sign in text for sign in ("connection refused", "failed to establish a new connection",
                                  "remotedisconnected", "connection aborted"))
        or re.search(r"(?:error code|status code|too many) 50[23]\b", text) is not None)


def is_auth_blip(err: BaseException) -> bool:
    """A 401 from a server that took our user earlier in this process (remote.ACCEPTED)."""
    return re.search(r"(?:error code|status code|status|too many) 401\b", str(err).lower()) is not None and \
        accepted(tracking_uri())


def store_fault(err: BaseException) -> str | None:
    """One line naming the store and the fix, for the faults of a store (not of our code); None otherwise."""
    uri = redact(tracking_uri())
    text = str(err).lower()
    where = store_name(tracking_uri())
    if "file is not a database" in text or "database disk image is malformed" in text:
        return (f"{where}: the MLflow store is not a readable SQLite database (damaged?); move it aside "
                f"(mv {where} {where}.broken) and rerun: a new store is made; data, models and metrics stay")
    if "readonly database" in text or "read-only" in text:
        return f"{where}: the MLflow store is read-only; make it writable (chmod u+w) or point MLFLOW_TRACKING_URI elsewhere"
    if "database or disk is full" in text or "disk i/o error" in text:
        return f"{where}: the disk under the MLflow store is full (or over a file size limit); free space and rerun"
    if is_locked_error(err):
        return (f"{where}: the MLflow store stayed locked by another process through every retry; "
                "wait for it (dvc queue status) and rerun")
    denied = re.search(r"(?:error code|status code|status) (401|403)", text)
    if denied:
        return credentials_fault(tracking_uri(), denied[1])
    if is_server_down(err):
        return (f"MLFLOW_TRACKING_URI={uri}: the MLflow server stopped answering for {server_wait_s():.0f} s "
                "(REPROZOO_SERVER_WAIT_S); check that it runs (a team's: make team-server, docs/team.md), then "
                "rerun: a training resumes into the same run from its last epoch's checkpoint")
    status = re.search(r"(?:error code|status code|status|too many) (5\d\d)", text)
    if status and "artifact" in text:  # the server stores artifacts in S3 (or GCS...) for its clients
        return (f"MLFLOW_TRACKING_URI={uri}: the MLflow server could not store an artifact ({status[1]}); its "
                "artifact store (S3?) is unreachable or refused it: see the server's log")
    if status:
        return f"MLFLOW_TRACKING_URI={uri}: the MLflow server answered {status[1]}; check its log, then rerun"
    return None


@contextmanager
def store_lock() -> Iterator[None]:
    """An exclusive lock beside the store, held while creating its tables or an experiment.

    Two queued experiments starting together would otherwise both run MLflow's schema
    migrations on a fresh mlflow.db, or both create the same experiment name.
    """
    folder = project_root() / ".reprozoo"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "mlflow.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def git_commit(root: Path) -> str:
    """HEAD's commit hash, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def use_store() -> str:
    """Point MLflow at the project's store (a server must answer first); returns the URI."""
    import mlflow

    uri = tracking_uri()
    check_server(uri)
    mlflow.set_tracking_uri(uri)
    return uri


def use_experiment(name: str) -> str:
    """Point MLflow at the project's store and experiment `name` (created once, artifacts beside the store)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = use_store()
    with store_lock():  # serialises processes sharing this checkout; a server settles the rest below
        existing = with_retries(mlflow.get_experiment_by_name, name)
        if existing is None:
            location = (project_root() / "mlartifacts").as_uri() if uri.startswith("sqlite:") else None
            try:
                with_retries(mlflow.create_experiment, name, artifact_location=location, tags=EXPERIMENT_TAGS)
            except MlflowException as err:  # another machine created it between our look-up and create
                if "RESOURCE_ALREADY_EXISTS" not in str(err.error_code) and "already exists" not in str(err):
                    raise
            existing = with_retries(mlflow.get_experiment_by_name, name)
        for key, value in EXPERIMENT_TAGS.items():  # stores made before the tag existed get it too
            if existing.tags.get(key) != value:
                with_retries(mlflow.MlflowClient().set_experiment_tag, existing.experiment_id, key, value)
    return with_retries(mlflow.set_experiment, experiment_id=existing.experiment_id).experiment_id


def run_tags(experiment: str, reproduces: str, record: dict, stage: str) -> dict[str, str]:
    """Tags that tie a run to its code, its DVC stage and its data (a Data.record())."""
    commit = git_commit(ROOT)  # the workspace: a queued experiment runs its own commit
    tags = {
        "mlflow.source.git.commit": commit,
        "git_commit": commit,
        "dvc_stage": os.environ.get("DVC_STAGE", stage),
        "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
        "dvc_exp_baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV", ""),  # the commit a DVC experiment starts from
        "reprozoo_experiment": experiment,
        "reproduces": reproduces,
        **record,  # dataset, source, data_sha256, data_note, data_standin
    }
    return {k: v for k, v in tags.items() if v != ""}  # an empty tag says nothing and clutters the UI


def log_series(run_id: str, key: str, values: list[float], start: int = 1) -> None:
    """A curve into a run in batches (one call per value is ~1000x slower)."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    now = int(time.time() * 1000)
    metrics = [Metric(key, float(v), now, start + i) for i, v in enumerate(values)]
    for i in range(0, len(metrics), 1000):  # MLflow's per-request limit
        with_retries(client.log_batch, run_id, metrics=metrics[i:i + 1000])


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested params as MLflow's flat keys: {'a': {'b': 1}} -> {'a.b': 1}."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}
