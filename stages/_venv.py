"""Run a stage in the project's virtual environment, whichever Python started it.

`dvc repro` runs `python stages/...`, which is the system Python unless the venv is active (e.g.
`.venv/bin/dvc repro` from a fresh shell). Without reprozoo importable, the stage restarts itself with
the .venv/bin/python that `make install` made (found up the tree, so queued experiments' temp copies
under .dvc/tmp/exps/ find it too), or stops with one line saying what to do.
"""

import os
import sys
from pathlib import Path


def ensure() -> None:
    try:
        import reprozoo  # noqa: F401
        return
    except ModuleNotFoundError:
        pass
    for folder in Path(__file__).resolve().parents:
        python = folder / ".venv" / "bin" / "python"
        if python.exists() and Path(sys.executable).resolve() != python.resolve():
            os.environ["PATH"] = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
            os.execv(str(python), [str(python), *sys.argv])
    sys.exit(f"error: {sys.executable} cannot import reprozoo; set up the project with: make install, then "
             "activate it with: source .venv/bin/activate")


ensure()
