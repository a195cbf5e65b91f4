"""`make bench`: both training paths run in their own processes and the JSON carries what the README table needs."""

from __future__ import annotations

import json
import subprocess
import sys

from reprozoo.data.mnist import from_embedded
from reprozoo.data.split import write_splits


def test_bench_runs_both_paths_and_reports_medians(tmp_path):
    raw = from_embedded()
    keep = list(range(0, 5000, 20))  # 250 real digits, 25 per class: seconds, not minutes
    raw.images, raw.labels, raw.is_test = raw.images[keep], raw.labels[keep], raw.is_test[keep]
    write_splits(tmp_path / "mnist", raw, {"dataset": "mnist"}, 0.1, 0.2, 0)
    cmd = [sys.executable, "-m", "reprozoo.bench", "--experiments", "s000-rnn-mnist", "--epochs", "1",
           "--warmup", "0", "--repeat", "2", "--splits", str(tmp_path), "--out", str(tmp_path / "b.json")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["repeat"] == 2
    (row,) = report["results"]
    for path in ("project", "seed-style"):
        assert len(row[path]["samples_per_s_runs"]) == 2
        assert row[path]["samples_per_s"] in row[path]["samples_per_s_runs"]
        assert 0 <= row[path]["test_accuracy"] <= 1 and row[path]["peak_memory_mb"] > 0
    assert row["speedup"] == round(row["project"]["samples_per_s"] / row["seed-style"]["samples_per_s"], 2)
