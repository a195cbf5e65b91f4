"""make check-reproduction's judgement: exact where the kernel fingerprints agree (a), every other figure
within its tolerance (b), the data and integer figures exact everywhere, nothing left unjudged."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from reprozoo.report.check import compare, render

MACHINE = {"cpu": "Some CPU", "cpu_capability": "AVX2", "threads": 2, "torch": "2.14.1"}
PROBES = {"mm 64x784@784x10": "aaaa", "lstm 28->64 (s001, s003)": "bbbb"}
FIGURES = {"test_accuracy": 0.9, "test_loss": 0.3, "test_samples": 1000, "train_seconds": 10.0}
SPREADS = {"test_accuracy": {"mean": 0.9, "sd": 0.004, "n": 8}, "test_loss": {"mean": 0.3, "sd": 0.03, "n": 8}}


def tree(root: Path, metrics: dict, probes: dict = PROBES, data: str = "d" * 64, spreads: dict | None = None,
         other: dict | None = None) -> Path:
    """A committed or re-derived checkout with experiment x (and y, without a spread, when `other` is given)."""
    (root / "metrics").mkdir(parents=True)
    rows = []
    for name, figures, spread in (("x", metrics, SPREADS if spreads is None else spreads), ("y", other, {})):
        if figures is None:
            continue
        (root / "results" / name).mkdir(parents=True)
        (root / "metrics" / f"{name}.json").write_text(json.dumps(figures))
        run = {"device": "cpu", "machine": MACHINE, "data_sha256": data}
        (root / "results" / name / "run.json").write_text(json.dumps(run))
        rows.append({"experiment": name, "metric": "test_accuracy", "figure_spreads": spread, **run})
    (root / "metrics" / "report.json").write_text(json.dumps({"rows": rows}))
    (root / "metrics" / "kernels.json").write_text(json.dumps({"machine": MACHINE, "probes": probes}))
    return root


def verdicts(rows: list[dict], name: str = "x") -> dict[str, tuple[str, bool]]:
    return {r["figure"]: (r["route"], r["ok"]) for r in rows if r["experiment"] == name}


def test_agreeing_fingerprints_must_match_bit_for_bit(tmp_path):
    committed = tree(tmp_path / "a", FIGURES)
    derived = tree(tmp_path / "b", {**FIGURES, "test_loss": 0.30001, "train_seconds": 99.0})
    v = verdicts(compare(derived, committed))
    assert v["test_accuracy"] == ("identical (a)", True) and v["test_loss"] == ("identical (a)", False)
    assert v["train_seconds"] == ("not judged (wall clock)", True)
    assert v["data_sha256"] == ("exact everywhere", True)


def test_differing_fingerprints_hold_each_figure_to_its_tolerance(tmp_path):
    committed = tree(tmp_path / "a", FIGURES)
    other_cpu = {**PROBES, "mm 64x784@784x10": "cccc"}
    # accuracy: 3 x max(sd 0.004, sqrt(0.9 x 0.1 / 1000) = 0.0095) = 0.0285; loss: 3 x 0.03
    near = tree(tmp_path / "b", {**FIGURES, "test_accuracy": 0.928, "test_loss": 0.38}, other_cpu)
    v = verdicts(compare(near, committed))
    assert v["test_accuracy"] == ("3 sampling sd (b)", True) and v["test_loss"] == ("3 sd of the measured spread (b)", True)
    assert v["test_samples"] == ("exact everywhere", True)
    far = tree(tmp_path / "c", {**FIGURES, "test_accuracy": 0.87, "test_loss": 0.40, "test_samples": 999}, other_cpu)
    v = verdicts(compare(far, committed))
    assert not v["test_accuracy"][1] and not v["test_loss"][1] and not v["test_samples"][1]


def test_a_measured_spread_wider_than_the_sampling_noise_sets_an_accuracy_tolerance(tmp_path):
    wide = {**SPREADS, "test_accuracy": {"mean": 0.9, "sd": 0.02, "n": 8}}
    committed = tree(tmp_path / "a", FIGURES, spreads=wide)
    derived = tree(tmp_path / "b", {**FIGURES, "test_accuracy": 0.95}, {})
    assert verdicts(compare(derived, committed))["test_accuracy"] == ("3 sd of the measured spread (b)", True)


def test_a_figure_without_a_spread_takes_sampling_noise_or_the_loss_rule(tmp_path):
    """y has no spread: its accuracy gets the binomial sd of its 200 items, its loss 3 x r x loss, where r is
    the largest relative sd of a test loss measured over seeds (x's: 0.03 / 0.3 = 0.1)."""
    y = {"test_accuracy": 0.5, "test_loss": 1.0, "test_samples": 200}
    committed = tree(tmp_path / "a", FIGURES, other=y)
    derived = tree(tmp_path / "b", FIGURES, {}, other={**y, "test_accuracy": 0.6, "test_loss": 1.29})
    v = verdicts(compare(derived, committed), "y")
    assert v["test_accuracy"] == ("3 sampling sd (b)", True)  # 3 x sqrt(0.25 / 200) = 0.106
    assert v["test_loss"] == ("3 x the loss rule (b)", True)  # 3 x 0.1 x 1.0 = 0.3
    derived = tree(tmp_path / "c", FIGURES, {}, other={**y, "test_accuracy": 0.39, "test_loss": 1.31})
    assert verdicts(compare(derived, committed), "y") == {
        "data_sha256": ("exact everywhere", True), "test_accuracy": ("3 sampling sd (b)", False),
        "test_loss": ("3 x the loss rule (b)", False), "test_samples": ("exact everywhere", True)}


def test_no_figure_is_merely_shown(tmp_path):
    """Without any measured loss spread there is no rule: such a figure is 'not judged', which fails."""
    committed = tree(tmp_path / "a", {"test_loss": 0.3, "train_seconds": 1.0}, spreads={})
    derived = tree(tmp_path / "b", {"test_loss": 0.3, "train_seconds": 2.0}, {})
    rows = compare(derived, committed)
    assert verdicts(rows)["test_loss"] == ("not judged", False)
    assert "not judged: 1" in render(rows) and "1 breach(es)" in render(rows)


def test_other_data_or_a_missing_figure_is_a_breach(tmp_path):
    committed = tree(tmp_path / "a", FIGURES)
    derived = tree(tmp_path / "b", {k: v for k, v in FIGURES.items() if k != "test_loss"}, data="e" * 64)
    v = verdicts(compare(derived, committed))
    assert v["data_sha256"][1] is False and v["test_loss"][1] is False


def test_another_cpu_simulated_by_perturbing_every_committed_figure_within_its_tolerance(tmp_path):
    """An honest stand-in for a CPU with other kernels: each fractional figure moved by 90 % of what its
    tolerance allows (and the fingerprint changed), integers and data untouched: no breach, all judged."""
    committed = tree(tmp_path / "a", FIGURES)
    acc_limit = 3 * max(0.004, math.sqrt(0.9 * 0.1 / 1000))
    moved = {**FIGURES, "test_accuracy": 0.9 - 0.9 * acc_limit, "test_loss": 0.3 + 0.9 * 3 * 0.03}
    rows = compare(tree(tmp_path / "b", moved, {}), committed)
    assert all(r["ok"] for r in rows) and not any(r["route"] == "not judged" for r in rows)
    assert "identical (a): 0" in render(rows)


def test_the_command_prints_the_table_and_exits_1_on_a_breach(tmp_path):
    committed = tree(tmp_path / "a", FIGURES)
    derived = tree(tmp_path / "b", {**FIGURES, "test_accuracy": 0.8})
    code = ("import sys; from pathlib import Path; import reprozoo.report.check as c; "
            "c.compare.__defaults__ = (Path(sys.argv[1]),); sys.argv[1:] = ['--derived', sys.argv[2]]; "
            "c.run_main(c.main)")
    result = subprocess.run([sys.executable, "-c", code, str(committed), str(derived)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "BREACH" in result.stdout and "1 breach(es)" in result.stdout
    assert "judged by route: identical (a): 3;" in result.stdout


def test_a_figure_no_training_moves_may_differ_by_float_precision_only(tmp_path, monkeypatch):
    """y's kind trains nothing (the SVD's): its continuous figures get 1e-3 of their size, not the loss rule;
    x's figures that training moves keep their spread."""
    import reprozoo.report.check

    monkeypatch.setattr(reprozoo.report.check, "untrained", lambda: {"x": ("test_samples",), "y": None})
    y = {"psnr_db": 27.0, "energy_kept": 0.99, "windows": 3}
    committed = tree(tmp_path / "a", FIGURES, other=y)
    near = tree(tmp_path / "b", FIGURES, {}, other={**y, "psnr_db": 27.02, "energy_kept": 0.9899})
    assert verdicts(compare(near, committed), "y") == {
        "data_sha256": ("exact everywhere", True), "psnr_db": ("float precision (b)", True),
        "energy_kept": ("float precision (b)", True), "windows": ("exact everywhere", True)}
    far = tree(tmp_path / "c", FIGURES, {}, other={**y, "psnr_db": 27.03, "energy_kept": 0.985})
    v = verdicts(compare(far, committed), "y")
    assert v["psnr_db"] == ("float precision (b)", False) and v["energy_kept"] == ("float precision (b)", False)
    assert verdicts(compare(far, committed))["test_loss"] == ("3 sd of the measured spread (b)", True)


def test_a_data_figure_of_a_trained_experiment_may_differ_by_float_precision_only(tmp_path, monkeypatch):
    """A chance level or a class share (a task's data_figures) is no accuracy of a trained net."""
    import reprozoo.report.check

    monkeypatch.setattr(reprozoo.report.check, "untrained", lambda: {"x": ("chance_accuracy",)})
    figures = {**FIGURES, "chance_accuracy": 0.0625}
    committed = tree(tmp_path / "a", figures)
    v = verdicts(compare(tree(tmp_path / "b", {**figures, "chance_accuracy": 0.0626}, {}), committed))
    assert v["chance_accuracy"] == ("float precision (b)", False) and v["test_accuracy"] == ("3 sampling sd (b)", True)


def test_every_tolerance_over_a_fifth_of_its_figure_is_named_with_its_reason(tmp_path):
    """x's loss may move by 3 x 0.03 = 0.09 (30 % of 0.3); y's accuracy by 3 x sqrt(0.25 / 200) = 0.106 (21 %)."""
    y = {"test_accuracy": 0.5, "test_samples": 200}
    rows = compare(tree(tmp_path / "b", FIGURES, {}, other=y), tree(tmp_path / "a", FIGURES, other=y))
    text = render(rows)
    assert "tolerances over 20% of their figure (2), and why:" in text
    assert "x test_loss: 0.09 of 0.3; training seeds were measured to move it that much" in text
    assert "y test_accuracy: 0.106066 of 0.5; its test set's sampling noise" in text
    assert "x test_accuracy" not in text.split("and why:")[1]  # 0.0285 of 0.9: 3 %
