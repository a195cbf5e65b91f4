"""`python -m reprozoo.team.server FOLDER` (`make team-server`): a team's MLflow tracking server.

PostgreSQL holds the runs (initialised once under FOLDER/postgres, reached only through a socket in
that folder), S3 holds the artifacts (--serve-artifacts: clients send them through the server and
need no S3 credentials), MLflow's basic-auth app asks every client for a user and password, and
the server binds 127.0.0.1 unless told otherwise. --moto starts a local S3 endpoint for a trial.
It runs in the foreground; Ctrl-C or SIGTERM, once or repeated, at any moment, stops every part it started
(team/stopping.py).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main
from reprozoo.team.stopping import Stopping

STOPPING = Stopping()
CHILDREN: list[subprocess.Popen] = []  # moto and MLflow, each in its own process group, in start order

# A trial's S3 (moto keeps objects in memory: they go when it stops) and its fixed, fake credentials.
MOTO_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
MOTO_BUCKET = "s3://reprozoo/mlartifacts"
S3_ENDPOINT = "s3-endpoint"  # the file in FOLDER naming moto's endpoint while it runs
# Every member may log into every experiment; nobody may do anything without a user and password. A
# password is checked (PBKDF2) once a minute per worker, not on every request: 8 writers' log_batch
# took ~1.7 s at p50 with a check per request on 2 cores; a changed password takes up to 60 s to apply.
AUTH_INI = """[mlflow]
default_permission = EDIT
database_uri = {db}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
"""
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true",  # no usage data leaves the machine
         "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no GenAI judge workers


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def need(tool: str) -> None:
    if not shutil.which(tool):
        raise ReprozooError(f"{tool}: not on PATH; install PostgreSQL (Debian: apt-get install postgresql) or set "
                            "REPROZOO_TEAM_DB to a postgresql:// URI of a server you have (RDS, Cloud SQL)")


def quiet(cmd: list[str], what: str) -> None:
    """Run a PostgreSQL tool in its own session: a signal to the server's process group (Ctrl-C) must not abort
    an initdb or pg_ctl half-way; the server stops what it started itself (team/stopping.py)."""
    result = subprocess.run(cmd, capture_output=True, text=True, start_new_session=True)
    if result.returncode:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no message"]
        raise ReprozooError(f"{what} failed: {last[0]}")


class Postgres:
    """A PostgreSQL cluster under `folder`, listening on a Unix socket there and on no TCP port."""

    def __init__(self, folder: Path):
        self.data = folder / "postgres"
        self.started = False  # stop only what this process started

    def uri(self, db: str) -> str:
        return f"postgresql+psycopg://postgres@/{db}?host={self.data}"

    def start(self) -> None:
        for tool in ("initdb", "pg_ctl", "createdb"):
            need(tool)
        if len(str(self.data / ".s.PGSQL.5432")) > 100:
            raise ReprozooError(f"{self.data}: too long a path for PostgreSQL's socket (100 characters at most); "
                                "choose a shorter folder")
        if os.geteuid() == 0 and subprocess.run(as_postgres(["test", "-x", str(self.data.parent)])).returncode:
            raise ReprozooError(f"{self.data.parent}: the postgres user cannot reach it (PostgreSQL runs as that user "
                                "here, and a folder above is closed to it); choose a folder such as /srv/reprozoo-team")
        if (self.data / "postmaster.pid").exists() and not subprocess.run(
                as_postgres(["pg_ctl", "-D", str(self.data), "status"]), capture_output=True).returncode:
            raise ReprozooError(f"{self.data}: its PostgreSQL already runs (another team server on this folder?); "
                                "stop that one first")
        # A stop meanwhile waits for the block: a cluster half set up would be taken for a whole one at the next
        # start, and one half started could not be stopped.
        with STOPPING.deferred():
            created = not (self.data / "PG_VERSION").exists()
            if created:
                self.data.mkdir(parents=True, exist_ok=True)
                if os.geteuid() == 0:
                    shutil.chown(self.data, "postgres", "postgres")
                quiet(as_postgres(["initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                      f"initdb -D {self.data} (can the postgres user reach that folder?)")
            self.started = True
            quiet(self.pg_ctl("start"), f"PostgreSQL in {self.data} (see {self.data}/server.log)")
            if created:
                for db in ("mlflow", "mlflow_auth"):
                    quiet(as_postgres(["createdb", "-h", str(self.data), "-U", "postgres", db]), f"createdb {db}")

    def pg_ctl(self, action: str) -> list[str]:
        """pg_ctl start or restart: the server's output goes to its log, never to the caller's pipes."""
        return as_postgres(["pg_ctl", "-D", str(self.data), "-o", f"-c listen_addresses='' -k {self.data}", "-l",
                            str(self.data / "server.log"), "-m", "fast", "-w", "-t", "60", action])

    def stop(self) -> None:
        if self.started:
            subprocess.run(as_postgres(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                           capture_output=True, start_new_session=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(url: str, proc: subprocess.Popen, what: str, log: Path, timeout: float = 180) -> None:
    """Wait for `url` to answer 200 while `proc` lives."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None:
                lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
                raise ReprozooError(f"{what} exited with code {proc.returncode}: {(lines or ['no output'])[-1]} "
                                    f"(its log: {log})") from None
            if time.monotonic() > deadline:
                raise ReprozooError(f"{what} did not answer {url} in {timeout:.0f} s; see {log}") from None
            time.sleep(0.5)


def spawn(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """A child in its own process group (stopped whole, with its workers), its output in `log`."""
    with open(log, "ab") as out, STOPPING.deferred():  # kept in CHILDREN before a stop can land
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        CHILDREN.append(proc)
    return proc


def stop(proc: subprocess.Popen | None) -> None:
    """SIGTERM to the child's whole group, SIGKILL after 20 s; then to whatever of the group outlived its
    leader (an MLflow worker holding the port)."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_moto(folder: Path, port: int) -> tuple[subprocess.Popen, dict[str, str]]:
    """moto's S3 server on loopback with the trial bucket; the environment that reaches it. Its endpoint is
    written to FOLDER/s3-endpoint once the bucket exists: a free port, so another start cannot collide with
    it, read from that file by the trial's DVC remote (docs/team.md)."""
    endpoint = f"http://127.0.0.1:{port}"
    log = folder / "moto.log"
    proc = spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log, dict(os.environ))
    wait_until(f"{endpoint}/moto-api/", proc, "moto's S3 server", log, timeout=60)
    env = {**MOTO_KEYS, "MLFLOW_S3_ENDPOINT_URL": endpoint}
    import boto3

    bucket = MOTO_BUCKET.split("/")[2]
    boto3.client("s3", endpoint_url=endpoint, **{k.lower(): v for k, v in MOTO_KEYS.items()
                                                  if k != "AWS_DEFAULT_REGION"}).create_bucket(Bucket=bucket)
    (folder / S3_ENDPOINT).write_text(endpoint + "\n")
    return proc, env


def secret_key(folder: Path) -> str:
    """The auth app's CSRF key: made once, kept (mode 600) so restarts keep the UI's sessions valid."""
    path = folder / "secret-key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def mlflow_command(db: str, artifacts: str, host: str, port: int, workers: int, allowed_hosts: str = "") -> list[str]:
    allowed = ["--allowed-hosts", allowed_hosts] if allowed_hosts else []  # MLflow's default: loopback, private IPs
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", db, "--artifacts-destination", artifacts,
            "--serve-artifacts", "--app-name", "basic-auth", "--host", host, "--port", str(port),
            "--workers", str(workers), *allowed]


def start_mlflow(folder: Path, db: str, auth_db: str, artifacts: str, host: str, port: int, workers: int,
                 extra_env: dict[str, str], allowed_hosts: str = "") -> subprocess.Popen:
    """The tracking server with basic auth; returns once /health answers."""
    ini = folder / "auth.ini"
    ini.write_text(AUTH_INI.format(db=auth_db, admin=os.environ.get("MLFLOW_AUTH_ADMIN_USERNAME", "admin")))
    env = {**os.environ, **QUIET, **extra_env, "MLFLOW_AUTH_CONFIG_PATH": str(ini)}
    env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secret_key(folder))
    log = folder / "mlflow.log"
    proc = spawn(mlflow_command(db, artifacts, host, port, workers, allowed_hosts), log, env)
    wait_until(f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/health", proc,
               "the MLflow server", log)  # no admin password at the first start: MLflow's line names it
    return proc


def main() -> None:
    pg = moto = server = folder = None
    try:
        # First of all, so that a stop at any moment after the imports is caught below: one before the
        # handlers are in kills the process by the signal's default action, with nothing started yet.
        with STOPPING.deferred():
            STOPPING.install()
        args = parse_args()
        started = time.monotonic()
        folder = args.folder.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        artifacts = MOTO_BUCKET if args.moto else os.environ.get("REPROZOO_TEAM_ARTIFACTS", "")
        if not artifacts.startswith(("s3://", "gs://", "wasbs://")):
            raise ReprozooError("REPROZOO_TEAM_ARTIFACTS: not an s3://, gs:// or wasbs:// URL of a bucket; set it "
                                "(and that store's credentials) or pass --moto for a local trial")
        pg = None if os.environ.get("REPROZOO_TEAM_DB") else Postgres(folder)
        if pg:
            pg.start()
        env: dict[str, str] = {}
        if args.moto:
            moto, env = start_moto(folder, free_port())
        db = os.environ.get("REPROZOO_TEAM_DB") or pg.uri("mlflow")
        auth_db = os.environ.get("REPROZOO_TEAM_AUTH_DB") or (pg.uri("mlflow_auth") if pg else "")
        if not auth_db:
            raise ReprozooError("REPROZOO_TEAM_AUTH_DB: not set; with REPROZOO_TEAM_DB, name a second database "
                                "for the users and passwords (postgresql://.../mlflow_auth)")
        server = start_mlflow(folder, db, auth_db, artifacts, args.host, args.port, args.workers, env,
                              args.allowed_hosts)
        trial = f"; S3 (moto, in memory) at {env['MLFLOW_S3_ENDPOINT_URL']}, keys testing/testing" if moto else ""
        print(f"team server ready in {time.monotonic() - started:.1f} s: MLFLOW_TRACKING_URI=http://{args.host}:"
              f"{args.port} (runs in {'REPROZOO_TEAM_DB' if not pg else pg.data}, artifacts in {artifacts}{trial}); "
              "Ctrl-C stops it", flush=True)
        while all(p is None or p.poll() is None for p in (moto, server)):
            time.sleep(1)
        raise ReprozooError(f"a part of the team server exited; see {folder}/mlflow.log and {folder}/moto.log")
    except KeyboardInterrupt:
        pass
    finally:
        STOPPING.cleaning = True  # a repeated signal from here on is noted, never raised
        for proc in reversed(CHILDREN):
            stop(proc)
        if folder and CHILDREN:  # this start got as far as moto (a second server on the folder did not)
            (folder / S3_ENDPOINT).unlink(missing_ok=True)  # names no endpoint once moto is gone
        if pg:
            pg.stop()
        if STOPPING.received:
            print(f"team server stopped ({STOPPING.received})", file=sys.stderr)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m reprozoo.team.server", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where PostgreSQL's data and the logs live (made once, kept)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to bind (docs/team.md: binding elsewhere)")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--allowed-hosts", default="", help="Host headers to accept when bound elsewhere "
                        "(mlflow server --allowed-hosts), e.g. mlflow.example.org")
    parser.add_argument("--moto", action="store_true", help="start a local S3 endpoint (moto) for a trial")
    return parser.parse_args()


if __name__ == "__main__":
    run_main(main)
