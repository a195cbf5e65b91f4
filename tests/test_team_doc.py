"""docs/team.md, run as written on loopback: its ```bash blocks, in page order, in a throwaway project.

The page's first ```bash block only sets TEAM_DIR, TEAM_PORT and MLFLOW_AUTH_ADMIN_PASSWORD; the test sets
those three instead (a folder under /tmp that PostgreSQL's user reaches, a free port) and nothing else, so
the port reaches every block from that one variable. The block that starts the server (`make team-server`)
is a foreground command on the page, the user's first terminal: the test runs it as written with `bash -e`
in a process group of its own that it does not wait for, and waits instead for the server's ready line (the
page needs no `&`). Every other block runs literally with `bash -e` in the second terminal, in order,
each seeing the variables the ones before it exported and the folder they left it in, as one shell would.
Those blocks add a member, run one experiment against the server, set the trial's DVC remote from the
endpoint the server wrote, push, and pull into a second clone; `dvc status` there must say that nothing
needs training. At the end the server's process group gets SIGTERM (Ctrl-C's equivalent) and nothing of it
may be left. The ``` blocks without a language (a real bucket, a committed remote, the queue) are the
page's illustrations: not run here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from reprozoo import ROOT
from reprozoo.team.server import free_port
from test_extending import blocks
from test_team import ADMIN, NAME, TINY, Output, leftovers, processes_naming, signed_in
from workspace import check, env_for, make_project

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "team.md"
SETTINGS = {"TEAM_DIR", "TEAM_PORT", "MLFLOW_AUTH_ADMIN_PASSWORD"}
NEVER_RUN = "No file hash info found"  # DVC's, for an output whose stage has never run in this checkout
# One block's run in the second terminal: the shell's exported variables and folder carried from the block
# before ($1 holds them) to the next.
TERMINAL = 'set -e\n. "$1"\n{block}\n{{ export -p; printf "cd %q\\n" "$PWD"; }} >"$1"\n'


def page_blocks() -> tuple[str, str, list[str]]:
    """The page's ```bash blocks: the settings, the server's, and the rest in order."""
    found = ["\n".join(lines) for lang, lines in blocks(DOC.read_text()) if lang == "bash"]
    settings, rest = found[0], found[1:]
    [server] = [b for b in rest if "make team-server" in b]
    return settings, server, [b for b in rest if b is not server]


def with_make(repo: Path) -> None:
    """What `make team-server` needs in the copy: the Makefile, the files its install stamp depends on, and a
    .venv of links to this venv's parts beside a stamp of its own, newer than those files: make must never
    reinstall into the venv the tests run in."""
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy2(ROOT / name, repo / name)
        os.utime(repo / name, (0, 0))
    venv = repo / ".venv"
    venv.mkdir()
    for part in Path(sys.prefix).iterdir():
        if part.name != ".installed-stamp":
            (venv / part.name).symlink_to(part)
    (venv / ".installed-stamp").touch()
    assert subprocess.run(["make", "-q", ".venv/.installed-stamp"], cwd=repo).returncode == 0
    check(["git", "add", "Makefile", "pyproject.toml", "requirements.lock"], repo)
    check(["git", "commit", "-qm", "make"], repo)


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_page_has_the_blocks_this_test_runs():
    settings, server, rest = page_blocks()
    assert set(re.findall(r"\b(\w+)=", settings)) == SETTINGS and settings.count("export") == settings.count("\n") + 1
    assert "$TEAM_PORT" in server and "$TEAM_DIR" in server and "TEAM_ARGS=--moto" in server
    wanted = ("create_user", f"dvc exp run evaluate@{NAME}", "s3-endpoint", "dvc push", "git clone", "dvc pull",
              "dvc status")
    where = [next(i for i, b in enumerate(rest) if w in b) for w in wanted]
    assert where == sorted(where), list(zip(wanted, where))
    assert not re.search(r"(?<!:-)5050", "\n".join(rest)), "a port written out, not $TEAM_PORT"


def test_the_page_runs_as_written_a_server_a_member_an_experiment_and_the_remote(tmp_path):
    _, server_block, rest = page_blocks()
    project = make_project(tmp_path / "project", TINY)
    with_make(project)
    folder = Path(tempfile.mkdtemp(prefix="rzt-", dir="/tmp"))
    folder.chmod(0o755)
    port = free_port()
    env = env_for(project, TEAM_DIR=str(folder / "srv"), TEAM_PORT=str(port), **ADMIN)
    motos_before = set(processes_naming("moto.server"))
    server = subprocess.Popen(["bash", "-e", "-c", server_block], cwd=project, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = Output(server)
    state = tmp_path / "terminal.sh"
    state.write_text("")
    ran = []
    try:
        deadline = time.monotonic() + 300
        while not output.ready_s:
            assert server.poll() is None and time.monotonic() < deadline, "".join(output.lines)[-3000:]
            time.sleep(0.1)
        for block in rest:
            result = subprocess.run(["bash", "-c", TERMINAL.format(block=block), "terminal", str(state)],
                                    cwd=project, env=env, capture_output=True, text=True, timeout=900)
            ran.append((block, result))
            assert result.returncode == 0, f"{block}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        run_id = json.loads((project / "models" / NAME / "run.json").read_text())["mlflow_run_id"]
        with signed_in(f"http://127.0.0.1:{port}", "admin", ADMIN["MLFLOW_AUTH_ADMIN_PASSWORD"]) as client:
            logged = client.get_run(run_id)
        assert logged.info.status == "FINISHED", logged.info  # in the server: the page's experiment block used it
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=120)
        output.thread.join(timeout=30)
        left = leftovers(folder, port, motos_before)
        for pid in left:
            if pid:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
    out = "".join(output.lines)
    assert "team server stopped (SIGTERM)" in out and "Traceback" not in out and not left, (out[-3000:], left)
    # Quiet: no warning reaches the user's terminal, but DVC's that a stage never run here has no outputs to
    # check out (this copy ran only what the MNIST experiments read; a checkout that ran `make repro` has them all).
    noisy = [line for _, result in ran for line in result.stderr.splitlines()
             if "warning" in line.lower() and NEVER_RUN not in line]
    assert not noisy, "\n".join(noisy)

    second = project.parent / "second-clone"
    assert second.is_dir(), "the page's second clone is not beside the project"
    for out_dir in (f"models/{NAME}", f"results/{NAME}"):
        assert tree(second / out_dir) == tree(project / out_dir) != {}, out_dir
    assert (second / "metrics" / f"{NAME}.json").read_bytes() == (project / "metrics" / f"{NAME}.json").read_bytes()
    [status] = [result.stdout for block, result in ran if f"dvc status evaluate@{NAME}" in block]
    assert "up to date" in status, status
