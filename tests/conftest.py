"""Shared fixtures: the real params, small IDX folders in MNIST's exact format, the fresh clone's repro."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from reprozoo import ROOT
from reprozoo.data.idx import write_idx
from reprozoo.data.mnist import IDX_FILES
from workspace import env_for

# The fresh clone's `dvc repro` (the `clone` fixture of test_pipeline.py) takes most of CI's time, and
# much of that is one core importing torch and MLflow in each stage's process. So it starts in the
# background before the first test, the tests that need it run last, and the other tests run
# meanwhile, mostly on the second core.
CLONE_FIXTURE = "clone"
# The clone re-derives every figure of metrics/ but not the spread: its 50-odd extra training runs would
# double CI's time on a 2-core machine, and they judge nothing that CI compares (the tolerances come from
# the committed spread). `make repro` and `make check-reproduction` run them; tests/test_harness.py runs
# the spread stage's code on a small config.
CLONE_PARAMS = {"spread": {"experiments": {}}}
# A clone re-derived already (say by `make check-reproduction`): the clone tests run on it and no repro starts.
REUSE = os.environ.get("REPROZOO_TEST_CLONE")


def needs_clone(item: pytest.Item) -> bool:
    return CLONE_FIXTURE in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)  # after pytest's own ordering by fixture scope
def pytest_collection_modifyitems(items):
    items[:] = [item for item in items if not needs_clone(item)] + [item for item in items if needs_clone(item)]


class BackgroundRepro:
    """A fresh `git clone` of HEAD, and the default `dvc repro` running in it, as CI runs it."""

    def __init__(self, base: Path):
        self.repo, self.log = base / "repo", base / "repro.log"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(self.repo)], check=True)
        params = self.repo / "params.yaml"
        raw = yaml.safe_load(params.read_text())
        for section, values in CLONE_PARAMS.items():
            raw[section].update(values)
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        (self.repo / "results" / "spread").mkdir(parents=True)  # the report's dep, empty without the spread
        self.started, self.seconds = time.time(), None
        with self.log.open("w") as log:  # a file, not a pipe: nobody reads a pipe while tests run
            self.proc = subprocess.Popen(["dvc", "repro"], cwd=self.repo, env=env_for(self.repo), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float) -> Path:
        """The clone once its repro has ended; fails the test with the log's tail when the repro did."""
        returncode = self.proc.wait(timeout=timeout)
        self.seconds = self.log.stat().st_mtime - self.started  # its last line: it may have ended long before
        assert returncode == 0, f"dvc repro in the clone exited {returncode}:\n{self.log.read_text()[-6000:]}"
        return self.repo

    def stop(self) -> None:
        if self.proc.poll() is None:  # the session ended early (-x, Ctrl-C): stop DVC and its stage
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=120)


REPRO = pytest.StashKey[BackgroundRepro]()


@pytest.fixture(scope="session", autouse=True)
def background_repro(request, tmp_path_factory):
    """Started before the first test when a selected test needs the clone; None otherwise."""
    if REUSE or not any(needs_clone(item) for item in request.session.items):
        yield None
        return
    job = request.config.stash[REPRO] = BackgroundRepro(tmp_path_factory.mktemp("clone"))
    yield job
    job.stop()


def pytest_terminal_summary(terminalreporter, config):
    """The fresh clone's `dvc repro` wall time, which the fixture's own duration no longer shows."""
    job = config.stash.get(REPRO, None)
    if job is not None and job.seconds is not None:
        terminalreporter.write_line(f"fresh-clone `dvc repro` (in the background): {job.seconds:.0f} s")
        from reprozoo.ledger.timing import totals  # its stages' time lines summed: how much of it was not work

        terminalreporter.write_line(f"its stages' time lines: {totals(job.log.read_text(), round(job.seconds))}")


@pytest.fixture(scope="session")
def clone(background_repro):
    """A fresh clone of HEAD with the default `dvc repro` run in it, as CI would (started above)."""
    return Path(REUSE) if REUSE else background_repro.wait(timeout=3300)


@pytest.fixture(scope="session")
def params():
    from reprozoo.harness.params import load_all

    return load_all()


def write_mnist_idx(folder: Path, n_train: int = 60, n_test: int = 20, gz: bool = False, seed: int = 0) -> dict:
    """Four IDX files of random digits, 28x28, every class present; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[(split, "images")] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        arrays[(split, "labels")] = (np.arange(n) % 10).astype(np.uint8)
    for key, stem in IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return arrays
