"""make check-reproduction's judgement: exact under contract (a), the measured spread under (b), data always identical."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reprozoo.check import compare, render

MACHINE = {"cpu": "Some CPU", "cpu_capability": "AVX2", "threads": 2, "torch": "2.14.1"}


def tree(root: Path, metrics: dict, machine: dict, data: str = "d" * 64, sd: float | None = 0.01) -> Path:
    """A committed or re-derived checkout with one experiment."""
    (root / "metrics").mkdir(parents=True)
    (root / "results" / "x").mkdir(parents=True)
    (root / "metrics" / "x.json").write_text(json.dumps(metrics))
    run = {"device": "cpu", "machine": machine, "data_sha256": data}
    (root / "results" / "x" / "run.json").write_text(json.dumps(run))
    row = {"experiment": "x", "metric": "test_accuracy", "spread": {"mean": 0.9, "sd": sd, "n": 3} if sd else None,
           **run}
    (root / "metrics" / "report.json").write_text(json.dumps({"rows": [row]}))
    return root


def verdicts(rows: list[dict]) -> dict[str, tuple[str, bool]]:
    return {r["figure"]: (r["allowed"].split(" ")[0], r["ok"]) for r in rows}


def test_same_machine_must_match_bit_for_bit(tmp_path):
    committed = tree(tmp_path / "a", {"test_accuracy": 0.9, "test_loss": 0.3, "train_seconds": 10.0}, MACHINE)
    derived = tree(tmp_path / "b", {"test_accuracy": 0.9, "test_loss": 0.30001, "train_seconds": 99.0}, MACHINE)
    v = verdicts(compare(derived, committed))
    assert v["test_accuracy"] == ("identical", True) and v["test_loss"] == ("identical", False)
    assert v["train_seconds"][1] and v["data_sha256"] == ("identical", True)


def test_another_machine_is_held_to_three_sd_of_the_measured_spread(tmp_path):
    committed = tree(tmp_path / "a", {"test_accuracy": 0.9, "test_loss": 0.3}, MACHINE)
    other = {**MACHINE, "cpu": "Another CPU"}
    near = tree(tmp_path / "b", {"test_accuracy": 0.925, "test_loss": 0.5}, other)
    far = tree(tmp_path / "c", {"test_accuracy": 0.94, "test_loss": 0.3}, other)
    assert verdicts(compare(near, committed))["test_accuracy"] == ("3", True)  # 0.025 <= 3 x 0.01
    assert verdicts(compare(near, committed))["test_loss"] == ("not", True)  # no spread measured: shown only
    assert verdicts(compare(far, committed))["test_accuracy"] == ("3", False)


def test_other_data_or_a_missing_figure_is_a_breach(tmp_path):
    committed = tree(tmp_path / "a", {"test_accuracy": 0.9, "test_loss": 0.3}, MACHINE)
    derived = tree(tmp_path / "b", {"test_accuracy": 0.9}, MACHINE, data="e" * 64)
    rows = compare(derived, committed)
    assert verdicts(rows)["data_sha256"][1] is False and verdicts(rows)["test_loss"][1] is False
    assert "2 breach(es)" in render(rows)


def test_the_command_prints_the_table_and_exits_1_on_a_breach(tmp_path):
    committed = tree(tmp_path / "a", {"test_accuracy": 0.9}, MACHINE)
    derived = tree(tmp_path / "b", {"test_accuracy": 0.8}, MACHINE)
    code = ("import sys; from pathlib import Path; import reprozoo.check as c; c.ROOT = Path(sys.argv[1]); "
            "c.compare.__defaults__ = (c.ROOT,); sys.argv[1:] = ['--derived', sys.argv[2]]; c.run_main(c.main)")
    result = subprocess.run([sys.executable, "-c", code, str(committed), str(derived)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "BREACH" in result.stdout and "1 breach(es)" in result.stdout
