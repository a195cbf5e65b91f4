"""A stage's time line: start-up, work and tracking counted apart, and a repro log's lines summed."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from reprozoo.ledger import timing


def test_nested_tracking_is_taken_out_of_the_work_around_it(monkeypatch):
    """On a clock the test moves itself (a sleep on a busy 2-core machine overshoots by any amount)."""
    now = [100.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(timing, "SECONDS", {"work": 0.0, "tracking": 0.0})
    with timing.spend("work"):
        now[0] += 0.2
        with timing.spend("tracking"):
            now[0] += 0.3
            with timing.spend("work"):  # work inside tracking (a model copied while logging) is work again
                now[0] += 0.05
        now[0] += 0.1
    now[0] += 7.0  # outside every block: charged to nothing
    assert timing.SECONDS == {"work": pytest.approx(0.35), "tracking": pytest.approx(0.3)}


def test_a_stage_prints_its_time_line_and_a_log_of_them_sums():
    code = ("import time; from reprozoo.ledger.stage import run_main; from reprozoo.ledger.timing import spend\n"
            "def main():\n    with spend('work'):\n        time.sleep(0.5)\nrun_main(main)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"DVC_STAGE": "train@x", "PATH": ""})
    (line,) = out.stdout.splitlines()
    row = timing.LINE.match(line).groupdict()
    # the sleep is counted as work (a busy machine may overshoot it, so no tight upper bound)
    assert row["stage"] == "train@x" and 0.5 <= float(row["work"]) < 3 and float(row["startup"]) > 0
    parts = sum(float(row[k]) for k in ("startup", "work", "tracking", "other"))
    assert abs(parts - float(row["total"])) <= 0.25  # each part rounded to 0.1 s
    summed = timing.totals(f"Running stage 'train@x':\n{line}\n{line}\n", wall=10.0)
    assert summed["stages"] == 2 and summed["work"] == round(2 * float(row["work"]), 1)
    assert summed["not_work"] == round(10.0 - summed["work"], 1)


def test_a_failed_stage_prints_no_time_line():
    code = ("from reprozoo.config.errors import ReprozooError\nfrom reprozoo.ledger.stage import run_main\n"
            "def main():\n    raise ReprozooError('params.yaml: x: bad')\nrun_main(main)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == "" and out.stderr == "error: params.yaml: x: bad\n"
