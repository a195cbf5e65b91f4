"""The README's command blocks, run in order as a newcomer would: a fresh shell in the fresh clone.

The clone is the one `make test` reproduced in the background (tests/conftest.py), so `make repro` has
in effect run; its `.venv` is this test run's own (linked in, as `make install` would have made it).
Every shell line of every ```bash/```sh block runs, in order, in one `bash -e` from an empty
environment, except the lines that start long-lived servers or retrain (named in SKIP) and lines with
<placeholders>; each skipped kind is run by another test (test_experience.py: `make ui`, `make serve`;
test_reliability.py: `dvc exp run`, queues; test_kernels.py: what `make kernels` runs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reprozoo import ROOT

SKIP = ("make repro", "make test", "make ui", "make serve", "make check-reproduction", "make kernels", "make bench",
        "dvc exp run", "dvc queue", "dvc exp apply", "curl ", "mlflow models serve", "export PATH")


def readme_commands(text: str) -> list[str]:
    """The shell commands of the README's bash/sh blocks, in order: continuation lines and quoted
    strings that span lines joined, trailing comments dropped."""
    commands = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
        pending = ""
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if not pending:
                line = line.split("  #")[0].split(" # ")[0].strip()
                if not line or line.startswith("#"):
                    continue
            pending = f"{pending}\n{line}" if pending else line
            if pending.count("'") % 2 == 0 and pending.count('"') % 2 == 0:  # quotes closed: a whole command
                commands.append(pending)
                pending = ""
    return commands


def runnable(command: str) -> bool:
    return not command.startswith(SKIP) and "<" not in command and not command.endswith("&")


def test_the_readme_has_the_blocks_this_test_runs():
    commands = readme_commands((ROOT / "README.md").read_text())
    assert "source .venv/bin/activate" in commands and "dvc repro" in commands
    assert sum(runnable(c) for c in commands) >= 6


@pytest.mark.slow
def test_readme_command_blocks_run_in_a_fresh_shell(clone, tmp_path):
    commands = [c for c in readme_commands((clone / "README.md").read_text()) if runnable(c)]
    venv = clone / ".venv"
    if not venv.exists():
        venv.symlink_to(Path(sys.executable).parent.parent)
    script = "set -e\n" + "".join(f"echo '$ {c}'\n{c}\n" for c in commands)
    fresh = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
             # the clone's own code, as `pip install -e .` in its venv would give it
             "PYTHONPATH": str(clone / "src")}
    result = subprocess.run(["bash", "-c", script], cwd=clone, env=fresh, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert "Running stage" not in result.stdout  # `dvc repro` in the reproduced clone: nothing to do
    assert (clone / "dvc_plots" / "index.html").exists()
    if os.environ.get("REPROZOO_SHOW_README_RUN"):
        print(result.stdout)
