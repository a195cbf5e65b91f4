"""The report (metrics/<name>.json + results/<name>/run.json as reprozoo.harness.outputs writes them, and the spread
runs), its README block, the dvc.yaml plots, the progress display."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from reprozoo import ROOT
from reprozoo.config.catalogue import CATALOGUE
from reprozoo.data.files import write_json
from reprozoo.config.errors import ReprozooError
from reprozoo.harness.outputs import write_results
from reprozoo.ledger.progress import Progress
from reprozoo.report.curves import training_curves
from reprozoo.report.report import README_END, README_START, build_report, render_markdown, update_readme
from reprozoo.tasks import Data, Result, experiment

IDS = {"mlflow_experiment_id": "3", "mlflow_run_id": "abcdef0123456789"}


@pytest.fixture
def record(tmp_path, monkeypatch, params):
    """record(name, main_metric, value, ...): one experiment's outputs under tmp_path, by the real writer."""
    monkeypatch.setattr("reprozoo.harness.outputs.ROOT", tmp_path)

    def write(name, main, value, fidelity="full", source="pypi", deviation=None, spread=(), in_info=False):
        task, p = experiment(params, name)
        kind = task.kind
        if deviation:
            p = p.model_copy(update={"deviation": deviation})
        ctx = SimpleNamespace(name=name, kind=kind, params=p, history=[{"epoch": 3}], device="cpu")
        data = Data("mnist", source, "ab" * 32, fidelity=fidelity)
        result = Result({} if in_info else {main: value}, main, info={main: value} if in_info else {})
        write_results(ctx, data, result, IDS, 42.5)
        if spread:
            write_json(tmp_path / "results" / "spread" / f"{name}.json", {"experiment": name, "metric": main, "runs": {
                str(seed): {main: other, "train_seconds": 1.0} for seed, other in zip((101, 102), spread)}})
        return name
    return write


def rows(report: dict) -> dict:
    return {r["experiment"]: r for r in report["rows"] if r["experiment"]}


def md_row(md: str, name: str) -> str:
    (line,) = [line for line in md.splitlines() if f"| {name} |" in line]
    return line


def test_every_catalogue_id_gets_a_row(record, tmp_path):
    names = [record("s003-cnn-mnist", "test_accuracy", 0.975), record("s002-linear-regression", "prediction_sgd",
                                                                        7.9912)]
    report = build_report(names, tmp_path)
    assert [r["id"] for r in report["rows"]] == list(CATALOGUE)
    assert (report["catalogue_ids"], report["reproduced_ids"], report["experiments"]) == (len(CATALOGUE), 2, 2)
    assert render_markdown(report).count("not yet reproduced") == len(CATALOGUE) - 2


def test_a_comparable_row_shows_difference_spread_and_verdict(record, tmp_path):
    names = [record("s000-rnn-mnist", "test_accuracy", 0.9741, spread=(0.9725, 0.9733)),
             record("s001-lstm-mnist", "test_accuracy", 0.90, spread=(0.901, 0.899))]
    report = build_report(names, tmp_path)
    close, far = rows(report)["s000-rnn-mnist"], rows(report)["s001-lstm-mnist"]
    # 0.9733 ± 0.0008 (n=3): a further run lands within ± t(0.975, 2) x 0.0008 x sqrt(4/3) = ± 0.0040
    assert (close["comparable"], close["difference"]) == ("yes", 0.0011)
    assert close["verdict"] == "inside our 95 % interval (t, n=3)"
    assert close["spread"]["interval95"] == pytest.approx([0.96933, 0.97728], abs=1e-5)
    assert close["spread"]["n"] == 3 and close["seeds"] == [0, 101, 102]
    assert (far["difference"], far["verdict"]) == (-0.06, "outside our 95 % interval (t, n=3)")
    md = render_markdown(report)
    assert ("| test_accuracy 0.9741; 0.9733 ± 0.0008 (n=3) | 0.0011 | inside our 95 % interval (t, n=3) | full (pypi) "
            "| yes | 3 | 42.5 | "
            "[abcdef01](http://127.0.0.1:5000/#/experiments/3/runs/abcdef0123456789?workflowType=machine_learning) |") in md_row(md, "s000-rnn-mnist")
    assert "| -0.06 | outside our 95 % interval (t, n=3) |" in md_row(md, "s001-lstm-mnist")


def test_an_integer_main_metric_gets_its_spread_and_verdict(record, tmp_path):
    """char_rnn's chars_right is an int (5 of 5), and its spread runs are configured: they must count."""
    name = record("s002-char-rnn-cell", "chars_right", 5, source="seed 002 (in the code)", spread=(5, 4))
    (row,) = rows(build_report([name], tmp_path)).values()
    assert (row["comparable"], row["difference"]) == ("yes", 0)
    assert row["spread"] is not None and row["spread"]["n"] == 3
    assert row["verdict"] == "inside our 95 % interval (t, n=3)"


def test_a_figure_every_run_gives_alike_gets_a_verdict_without_an_interval(record, tmp_path):
    name = record("s002-char-rnn-cell", "chars_right", 5, source="seed 002 (in the code)", spread=(5, 5))
    (row,) = rows(build_report([name], tmp_path)).values()
    assert row["spread"]["sd"] == 0 and row["verdict"] == "all 3 runs give the seed's figure"


def test_a_deviation_is_partly_comparable_and_shows_no_difference(record, tmp_path):
    name = record("s003-cnn-mnist", "test_accuracy", 0.975, deviation="2 epochs, not 1", spread=(0.97, 0.98))
    report = build_report([name], tmp_path)
    (row,) = rows(report).values()
    assert (row["comparable"], row["difference"], row["verdict"]) == ("partly: 2 epochs, not 1", None, None)
    assert "| — | — | full (pypi) | partly: 2 epochs, not 1 |" in md_row(render_markdown(report), name)


@pytest.mark.parametrize("fidelity, source, comparable", [
    ("stand-in", "standin-mnist", "no: stand-in data"),
    ("subset", "embedded", "partly: a subset of the seed's data"),
    ("other", "torchvision", "no: other data than the seed's")])
def test_rows_on_data_other_than_the_seeds_show_no_difference(record, tmp_path, fidelity, source, comparable):
    name = record("s001-lstm-mnist", "test_accuracy", 0.96, fidelity=fidelity, source=source, spread=(0.95, 0.97))
    report = build_report([name], tmp_path)
    (row,) = rows(report).values()
    assert (row["comparable"], row["difference"], row["verdict"]) == (comparable, None, None)
    assert f"| — | — | {fidelity} ({source}) | {comparable} |" in md_row(render_markdown(report), name)


def test_a_figure_the_seed_gives_no_number_for_is_not_compared(record, tmp_path):
    names = [record("s003-cnn-tsne", "knn5_accuracy_2d", 0.91),  # its catalogue id's number is test_accuracy
             record("s000-rnn-activations", "activation_shape", [28, 128, 150], in_info=True)]
    report = build_report(names, tmp_path)
    for name in names:
        row = rows(report)[name]
        assert (row["comparable"], row["difference"]) == ("no: the seed gives no number for this", None)
    assert rows(report)["s000-rnn-activations"]["ours"] == [28, 128, 150]
    assert "| s003-cnn-mnist | s003-cnn-tsne |" in render_markdown(report)


def test_outside_figures_are_labelled_outside_and_notes_are_shown(record, tmp_path):
    names = [record("s002-mnist-fc", "test_accuracy", 0.971), record("s000-rnn-mnist", "test_accuracy", 0.973)]
    report = build_report(names, tmp_path)
    fc = rows(report)["s002-mnist-fc"]
    assert fc["seed_printed"] == "" and fc["seed_value_outside"] is True and fc["comparable"] == "yes"
    md = render_markdown(report)
    for cid, entry in CATALOGUE.items():
        if entry.outside:  # every mention of an outside figure is labelled, reproduced or not
            assert md.count(entry.outside) == md.count(f"(outside, not the seed's: {entry.outside})") >= 1, cid
    assert "| s002-mnist-fc | s002-mnist-fc | — (outside, not the seed's: the course shows about 97 %" in md
    assert "| s000-rnn-mnist | s000-rnn-mnist | 97.46 % on the 10k test set (recounted: 97.30 %) |" in md
    assert f"- s000-rnn-mnist: {CATALOGUE['s000-rnn-mnist'].note}." in md.splitlines()


@pytest.mark.parametrize("damage, where, says", [
    ("delete metrics", "metrics/s003-cnn-mnist.json", "missing; recreate it with: dvc repro"),
    ("delete run", "results/s003-cnn-mnist/run.json", "missing; recreate it with: dvc repro"),
    ("{not json", "results/s003-cnn-mnist/run.json", "not valid JSON"),
    ({"reproduces": "s999"}, "results/s003-cnn-mnist/run.json", "needs a CATALOGUE id in `reproduces`"),
    ({"main_metric": None}, "results/s003-cnn-mnist/run.json", "a main_metric"),
    ({"main_metric": "test_mse"}, "metrics/s003-cnn-mnist.json", "no 'test_mse', the main_metric"),
    ({"data_fidelity": "half"}, "results/s003-cnn-mnist/run.json", "data_fidelity"),
    ("{not json", "results/spread/s003-cnn-mnist.json", "not valid JSON"),
], ids=["no-metrics", "no-run", "run-not-json", "unknown-id", "no-main-metric", "main-metric-not-in-metrics",
        "unknown-data-fidelity", "spread-not-json"])
def test_a_broken_or_missing_file_is_one_line_naming_it(record, tmp_path, damage, where, says):
    name = record("s003-cnn-mnist", "test_accuracy", 0.975, spread=(0.97, 0.98))
    path = tmp_path / where
    if isinstance(damage, dict):  # a run.json that parses but breaks the contract
        run = tmp_path / "results" / name / "run.json"
        run.write_text(json.dumps({**json.loads(run.read_text()), **damage}))
    elif damage.startswith("delete"):
        path.unlink()
    else:
        path.write_text(damage)
    with pytest.raises(ReprozooError) as err:
        build_report([name], tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and says in message, message


def test_readme_block_is_rewritten_between_the_markers_only(record, tmp_path):
    report = build_report([record("s003-cnn-mnist", "test_accuracy", 0.975)], tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{README_START}\nold table\n{README_END}\nafter\n")
    assert update_readme(readme, report) is True
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n") and text.endswith(f"{README_END}\nafter\n")
    assert "old table" not in text and "| s003-cnn-mnist | s003-cnn-mnist |" in text
    assert update_readme(readme, report) is False
    assert update_readme(readme, build_report([], tmp_path), write=False) is True and readme.read_text() == text
    readme.write_text("no markers\n")
    with pytest.raises(ReprozooError, match="no '<!-- report:start -->'"):
        update_readme(readme, report)


def test_readme_shows_the_committed_report():
    """README.md's block is what `python -m reprozoo.report.report --readme` renders from the committed
    metrics/report.json (git's copy: a re-derivation on another CPU rewrites the working tree's, within the
    contract, and `make check-reproduction` judges that one)."""
    shown = subprocess.run(["git", "show", "HEAD:metrics/report.json"], cwd=ROOT, capture_output=True, text=True)
    report = json.loads(shown.stdout) if shown.returncode == 0 else \
        json.loads((ROOT / "metrics" / "report.json").read_text())
    assert not update_readme(ROOT / "README.md", report, write=False), \
        "README.md's report block is out of date; run: python -m reprozoo.report.report --readme"


def test_dvc_plots_draw_every_image_classifiers_training_curves(params):
    """dvc.yaml's charts read metrics/curves.csv, and the committed one holds every image classifier's history."""
    plots = {name: spec for entry in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
             for name, spec in entry.items()}
    assert plots["loss"]["y"] == {"metrics/curves.csv": "train_loss"}
    assert plots["accuracy"]["y"] == {"metrics/curves.csv": "train_accuracy"}
    names = list(params.experiments["image_classifier"])
    assert [tuple(r) for r in csv.reader((ROOT / "metrics" / "curves.csv").open())] == training_curves(names, ROOT)


def test_training_curves_name_a_missing_history(tmp_path):
    with pytest.raises(ReprozooError, match=r"plots/absent/history.csv is missing: run `dvc repro train@absent`"):
        training_curves(["absent"], tmp_path)


ROW = {"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "val_loss": 0.4, "val_accuracy": 0.85, "seconds": 1.5}


def test_progress_off_a_terminal_is_one_line_per_epoch():
    lines, err = io.StringIO(), io.StringIO()
    progress = Progress("cnn", 2, stream=err, lines=lines)  # StringIO is not a terminal
    assert not progress.interactive
    for epoch in (1, 2):
        assert list(progress.batches([1, 2, 3])) == [1, 2, 3]
        progress.epoch_done({**ROW, "epoch": epoch})
    assert lines.getvalue().splitlines() == [
        f"[cnn] epoch {e}/2 train loss 0.5000 train accuracy 0.8000 val loss 0.4000 val accuracy 0.8500 | 1.5s"
        for e in (1, 2)]
    assert err.getvalue() == ""


def test_progress_on_a_terminal_draws_the_epoch_bar_from_the_first_epoch():
    lines, err = io.StringIO(), io.StringIO()
    progress = Progress("cnn", 4, interactive=True, stream=err, lines=lines)
    assert list(progress.batches([1, 2, 3])) == [1, 2, 3]
    assert "batches:" in err.getvalue() and "/3 " in err.getvalue() and "cnn:" not in err.getvalue()
    for epoch in (2, 4):  # rows may come every few epochs: the bar goes to row["epoch"]
        progress.epoch_done({**ROW, "epoch": epoch})
    bars = err.getvalue()
    assert "cnn: 100%" in bars and "4/4" in bars and "val_accuracy=0.8500" in bars
    assert lines.getvalue() == ""


def test_progress_of_a_resumed_run_starts_at_its_first_reported_epoch():
    err = io.StringIO()
    progress = Progress("cnn", 5, interactive=True, stream=err, lines=io.StringIO())
    progress.epoch_done({**ROW, "epoch": 3})  # epochs 1-2 came from the checkpoint
    progress.close()
    assert "cnn:  60%" in err.getvalue() and "3/5" in err.getvalue() and "4/5" not in err.getvalue()


def test_a_spread_measured_under_another_recipe_is_not_compared(record, tmp_path):
    """A sweep that names its evaluate stage leaves dvc.lock's spread entry with the old params: the row shows no
    spread and no verdict, and names the command that measures the right one. Agreeing entries change nothing."""
    names = [record("s000-rnn-mnist", "test_accuracy", 0.9741, spread=(0.9725, 0.9733)),
             record("s001-lstm-mnist", "test_accuracy", 0.9630, spread=(0.961, 0.964))]
    key = "experiments.image_classifier.{}"
    lock = {"stages": {
        "train@s000-rnn-mnist": {"params": {"params.yaml": {key.format("s000-rnn-mnist"): {"lr": 0.002}}}},
        "evaluate@s000-rnn-mnist": {"params": {"params.yaml": {key.format("s000-rnn-mnist"): {"lr": 0.002}}}},
        "spread@s000-rnn-mnist": {"params": {"params.yaml": {key.format("s000-rnn-mnist"): {"lr": 0.001},
                                                             "spread.seeds": [101, 102]}}},
        "train@s001-lstm-mnist": {"params": {"params.yaml": {key.format("s001-lstm-mnist"): {"lr": 0.01}}}},
        "spread@s001-lstm-mnist": {"params": {"params.yaml": {key.format("s001-lstm-mnist"): {"lr": 0.01}}}}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    swept, kept = rows(build_report(names, tmp_path))["s000-rnn-mnist"], rows(build_report(names, tmp_path))["s001-lstm-mnist"]
    assert (swept["spread"], swept["figure_spreads"], swept["verdict"], swept["seeds"]) == (None, {}, None, [])
    assert swept["spread_note"] == ("its spread was measured under another recipe; measure this one: "
                                    "dvc repro spread@s000-rnn-mnist")
    assert kept["spread"]["n"] == 3 and "spread_note" not in kept
    md = render_markdown(build_report(names, tmp_path))
    assert "| test_accuracy 0.9741 |" in md_row(md, "s000-rnn-mnist")
    assert "- s000-rnn-mnist: its spread was measured under another recipe; measure this one: dvc repro " \
           "spread@s000-rnn-mnist." in md
