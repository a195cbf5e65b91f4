"""Where a stage's seconds go: start-up, the work itself, MLflow tracking, and the rest.

A stage ends with one line (ledger/stage.run_main prints it) such as
    time train@s001-lstm-mnist: 14.2 s = start-up 1.9 + work 10.8 + tracking 1.1 + other 0.4
start-up: from the process's start (interpreter, imports, params, device set-up) to the first work;
work: loading the data, training, scoring, writing figures (the `spend("work")` blocks);
tracking: MLflow calls (`spend("tracking")`), even inside work; other: the rest (outputs, exit).
Summed over a `dvc repro` log, they say how much of the pipeline's wall time is not work.
"""

from __future__ import annotations

import functools
import os
import re
import time
from contextlib import contextmanager
from typing import Iterator

SECONDS = {"work": 0.0, "tracking": 0.0}
_first_work: float | None = None  # time.time() when work first began
_stack: list[str] = []
_mark = 0.0


def process_start() -> float:
    """The process's start as time.time(), from /proc (Linux); else the moment this module was imported."""
    try:
        ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED


_IMPORTED = time.time()


def _charge(now: float) -> None:
    if _stack:
        SECONDS[_stack[-1]] += now - _mark


@contextmanager
def spend(kind: str) -> Iterator[None]:
    """Count the block's seconds as `kind`; a nested block takes its own seconds from the outer one."""
    global _first_work, _mark
    if kind == "work" and _first_work is None:
        _first_work = time.time()
    now = time.perf_counter()
    _charge(now)
    _stack.append(kind)
    _mark = now
    try:
        yield
    finally:
        now = time.perf_counter()
        _charge(now)
        _stack.pop()
        _mark = now


def charged(kind: str):
    """Decorator: every call of the function is spent as `kind`."""
    def wrap(func):
        @functools.wraps(func)
        def inner(*args, **kwargs):
            with spend(kind):
                return func(*args, **kwargs)
        return inner
    return wrap


def summary(stage: str) -> str | None:
    """The stage's time line, or None when it did no work (an error before it began)."""
    if _first_work is None:
        return None
    total = time.time() - process_start()
    startup = _first_work - process_start()
    other = total - startup - SECONDS["work"] - SECONDS["tracking"]
    return (f"time {stage}: {total:.1f} s = start-up {startup:.1f} + work {SECONDS['work']:.1f} "
            f"+ tracking {SECONDS['tracking']:.1f} + other {other:.1f}")


LINE = re.compile(r"^time (?P<stage>\S+): (?P<total>[\d.]+) s = start-up (?P<startup>[\d.]+) \+ work (?P<work>[\d.]+) "
                  r"\+ tracking (?P<tracking>[\d.]+) \+ other (?P<other>-?[\d.]+)$")


def totals(log: str, wall: float | None = None) -> dict:
    """The time lines of a `dvc repro` log summed; with the pipeline's wall time, what of it was not work."""
    rows = [m.groupdict() for m in map(LINE.match, log.splitlines()) if m]
    sums = {k: round(sum(float(r[k]) for r in rows), 1) for k in ("total", "startup", "work", "tracking", "other")}
    out = {"stages": len(rows), **sums}
    if wall:
        out["wall"] = wall
        out["not_work"] = round(wall - sums["work"], 1)
        out["not_work_fraction"] = round((wall - sums["work"]) / wall, 3)
    return out


def main() -> None:
    """python -m reprozoo.ledger.timing LOG [WALL_SECONDS]: the sums of a `dvc repro` log's time lines, as JSON."""
    import json
    import sys

    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m reprozoo.ledger.timing LOG [WALL_SECONDS]")
    print(json.dumps(totals(open(sys.argv[1]).read(), float(sys.argv[2]) if len(sys.argv) == 3 else None), indent=1))


if __name__ == "__main__":
    main()
