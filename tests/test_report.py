"""The report (any metrics file with a main_metric), its README block, the dvc.yaml plots, the progress display."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import yaml

from reprozoo import ROOT
from reprozoo.catalogue import CATALOGUE
from reprozoo.errors import ReprozooError
from reprozoo.progress import Progress
from reprozoo.report import README_END, README_START, build_report, render_markdown, update_readme


def classifier_metrics(name: str = "cnn", source: str = "embedded") -> dict:
    return {"experiment": name, "reproduces": "s003-cnn-mnist", "source": source, "seed_reported": 0.98,
            "main_metric": "test_accuracy", "test_accuracy": 0.975, "epochs": 17, "train_seconds": 42.5,
            "device": "cpu", "mlflow_experiment_id": "3", "mlflow_run_id": "abcdef0123456789"}


def write(folder, metrics: dict) -> None:
    (folder / f"{metrics['experiment']}.json").write_text(json.dumps(metrics))


def test_every_catalogue_id_gets_a_row_and_ours_stand_beside_the_seed(tmp_path):
    write(tmp_path, classifier_metrics())
    # A non-classifier (issue 4's contract): its own figure named by main_metric, its own data kind.
    write(tmp_path, {"experiment": "linreg", "reproduces": "s002-linear-regression", "source": "generated",
                     "data": "full", "seed_reported": 8.0, "main_metric": "prediction_at_4",
                     "prediction_at_4": 7.9912})
    report = build_report(["cnn", "linreg"], tmp_path)
    assert {r["id"] for r in report["rows"]} == set(CATALOGUE)
    assert report["reproduced_ids"] == 2 and report["catalogue_ids"] == len(CATALOGUE)
    rows = {r["experiment"]: r for r in report["rows"] if r["experiment"]}
    cnn, linreg = rows["cnn"], rows["linreg"]
    assert (cnn["ours"], cnn["difference"], cnn["data"]) == (0.975, -0.005, "embedded")
    assert cnn["comparable"].startswith("partly")
    assert cnn["mlflow_url"] == "http://127.0.0.1:5000/#/experiments/3/runs/abcdef0123456789"
    assert (linreg["metric"], linreg["difference"], linreg["comparable"]) == ("prediction_at_4", -0.0088, "yes")
    assert linreg["mlflow_url"] is None and linreg["epochs"] is None
    md = render_markdown(report)
    assert md.count("not yet reproduced") == len(CATALOGUE) - 2
    assert "| s002-linear-regression | linreg | prediction for x = 4 close to 8 | prediction_at_4 7.991 | -0.0088 |" \
        in md
    assert "[abcdef01](http://127.0.0.1:5000/#/experiments/3/runs/abcdef0123456789)" in md


@pytest.mark.parametrize("source, data, comparable", [("torchvision", "full", "yes"), ("fake", "stand-in", "no")])
def test_data_kind_follows_the_source(tmp_path, source, data, comparable):
    write(tmp_path, classifier_metrics(source=source))
    (row,) = [r for r in build_report(["cnn"], tmp_path)["rows"] if r["experiment"]]
    assert row["data"] == data and row["comparable"].startswith(comparable)


@pytest.mark.parametrize("change, message", [
    ({"main_metric": None}, "missing key(s) main_metric"),
    ({"main_metric": "test_mse"}, "missing key(s) test_mse"),
    ({"reproduces": "s999"}, "not a CATALOGUE id"),
    ({"data": "half"}, "data 'half' is not one of full, embedded, stand-in"),
])
def test_a_metrics_file_breaking_the_contract_is_one_line(tmp_path, change, message):
    metrics = {k: v for k, v in {**classifier_metrics(), **change}.items() if v is not None}
    write(tmp_path, metrics)
    with pytest.raises(ReprozooError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_report(["cnn"], tmp_path)


def test_missing_metrics_file_names_it(tmp_path):
    with pytest.raises(ReprozooError, match="cnn.json: missing"):
        build_report(["cnn"], tmp_path)


def test_readme_block_is_rewritten_between_the_markers_only(tmp_path):
    write(tmp_path, classifier_metrics())
    report = build_report(["cnn"], tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{README_START}\nold table\n{README_END}\nafter\n")
    assert update_readme(readme, report) is True
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n") and text.endswith(f"{README_END}\nafter\n")
    assert "old table" not in text and "| s003-cnn-mnist | cnn |" in text
    assert update_readme(readme, report) is False
    readme.write_text("no markers\n")
    with pytest.raises(ReprozooError, match="no '<!-- report:start -->'"):
        update_readme(readme, report)


def test_readme_shows_the_current_report():
    """README.md's block is what `python -m reprozoo.report --readme` renders from metrics/report.json."""
    result = subprocess.run([sys.executable, "-m", "reprozoo.report", "--readme", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dvc_plots_cover_every_experiment(params):
    plots = {name: spec for entry in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
             for name, spec in entry.items()}
    histories = {f"plots/{name}/history.csv" for name in params.experiments}
    assert set(plots["loss"]["y"]) == histories and set(plots["accuracy"]["y"]) == histories
    assert all(cols == ["train_loss", "val_loss"] for cols in plots["loss"]["y"].values())


ROW = {"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "val_loss": 0.4, "val_accuracy": 0.85, "seconds": 1.5}


def test_progress_off_a_terminal_is_one_line_per_epoch():
    lines, err = io.StringIO(), io.StringIO()
    progress = Progress("cnn", 2, stream=err, lines=lines)  # StringIO is not a terminal
    assert not progress.interactive
    for epoch in (1, 2):
        assert list(progress.batches([1, 2, 3])) == [1, 2, 3]
        progress.epoch_done({**ROW, "epoch": epoch})
    assert lines.getvalue().splitlines() == [
        "[cnn] epoch 1/2 train loss 0.5000 acc 0.8000 | val loss 0.4000 acc 0.8500 | 1.5s",
        "[cnn] epoch 2/2 train loss 0.5000 acc 0.8000 | val loss 0.4000 acc 0.8500 | 1.5s"]
    assert err.getvalue() == ""


def test_progress_on_a_terminal_draws_bars():
    lines, err = io.StringIO(), io.StringIO()
    progress = Progress("cnn", 2, interactive=True, stream=err, lines=lines)
    for epoch in (1, 2):
        assert list(progress.batches([1, 2, 3])) == [1, 2, 3]
        progress.epoch_done({**ROW, "epoch": epoch})
    bars = err.getvalue()
    assert "cnn: 100%" in bars and "2/2" in bars and "val_acc=0.8500" in bars and "batches:" in bars and "/3 " in bars
    assert lines.getvalue() == ""
