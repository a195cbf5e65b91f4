"""Every kind of experiment, end to end through the one harness, at tiny size, into a temporary MLflow store.

The real params.yaml, shrunk: one or two experiments of each kind with a few epochs of small nets, on
the embedded MNIST and the stand-ins. The real stage scripts make the data; then one process runs
each experiment's phases (reprozoo.harness.phases.run_phase) as the DVC stages would, which saves ~8 s of imports
per experiment; the pipeline's own tests run the stages one process each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reprozoo.harness.params import load_all
from workspace import check, env_for, make_project, mlflow_runs

pytestmark = pytest.mark.slow  # real stages and pipelines, minutes

IC = "experiments.image_classifier"
SHRINK = {
    "datasets.mnist.test_fraction": 0.8,  # 500 train, 100 val, 4000 test images
    f"{IC}.s000-rnn-mnist.model_args": {"cell": "rnn", "hidden_size": 8, "num_layers": 2, "identity_init": True},
    f"{IC}.s000-rnn-mnist.epochs": 2,
    f"{IC}.s003-cnn-mnist.model_args": {"channels": [4, 8]},
    f"{IC}.s004-vgg16-transfer.epochs": 2,
    "backbones.lenet-digits.epochs": 1,
    "experiments.linear_regression.s002-linear-regression.optimizers": ["sgd", "lbfgs"],
    "experiments.linear_regression.s002-linear-regression.epochs": 30,
    "experiments.linear_regression.s002-linear-regression.handwritten_epochs": 30,
    "experiments.logistic_regression.s002-logistic-regression.epochs": 30,
    "experiments.tabular_mlp.s002-breast-cancer-mlp-relu.epochs": 200,
    "experiments.char_rnn.s002-char-rnn-embedding.epochs": 5,
    "experiments.names_gru.s002-names-gru.epochs": 2,
    "experiments.names_gru.s002-names-gru.hidden_size": 8,
    "experiments.sin_cos.s003-rnn-regression.windows": 10,
    "experiments.probe.s003-cnn-tsne.samples": 60,
    "spread": {"seeds": [7], "experiments": {"s003-cnn-mnist": {"kind": "image_classifier", "runs": 2},
                                             "s002-char-rnn-embedding": {"kind": "char_rnn", "runs": 2}}},
}
KEEP = {"image_classifier": ["s000-rnn-mnist", "s003-cnn-mnist", "s004-vgg16-transfer"],
        "tabular_mlp": ["s002-breast-cancer-mlp-relu"], "char_rnn": ["s002-char-rnn-embedding"]}
NAMES_CSV = {"names_train.csv": "Nakamura,Japanese\nTanaka,Japanese\nSuzuki,Japanese\nSchmidt,German\n"
                                "Mueller,German\nWagner,German\nRossi,Italian\nRusso,Italian\nBruno,Italian\n",
             "names_test.csv": "Sato,Japanese\nFischer,German\nRicci,Italian\n"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("harness")
    for name, text in NAMES_CSV.items():
        (base / name).write_text(text)
    changes = {**SHRINK, "datasets.names": {"source": "csv", "path": str(base), "top_n": 300,
                                            "test_fraction": 0.2, "seed": 0}}
    repo = make_project(base / "repo", changes)
    raw = __import__("yaml").safe_load((repo / "params.yaml").read_text())
    for kind, names in KEEP.items():
        raw["experiments"][kind] = {n: raw["experiments"][kind][n] for n in names}
    (repo / "params.yaml").write_text(__import__("yaml").safe_dump(raw, sort_keys=False))
    for dataset in ("cifar10", "cats_dogs", "names"):
        check(["python", "stages/download.py", dataset], repo)
        check(["python", "stages/split.py", dataset], repo)
    check(["python", "stages/backbone.py", "lenet-digits"], repo)
    params = load_all(repo / "params.yaml")
    calls = []
    for name, (kind, _) in params.all().items():
        phases = ["train", "evaluate"] if kind == "image_classifier" else ["all"]
        calls += [(name, phase) for phase in phases]
    calls.sort(key=lambda c: params.all()[c[0]][0] == "probe")  # probes after the models they probe
    calls += [(n, "spread") for n in params.spread.experiments]
    script = "from reprozoo.harness.phases import run_phase\n" + "".join(f"run_phase({n!r}, {p!r})\n" for n, p in calls)
    result = subprocess.run([sys.executable, "-c", script], cwd=repo, env=env_for(repo, DVC_STAGE="test"),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    check(["python", "stages/report.py"], repo)
    return repo


def kinds() -> dict[str, str]:
    """Each kind of the real params.yaml -> the experiment of it this test runs."""
    real = load_all()
    return {kind: KEEP.get(kind, [n for n, (k, _) in real.all().items() if k == kind])[0]
            for kind in {k for k, _ in real.all().values()}}


@pytest.mark.parametrize("kind, name", sorted(kinds().items()))
def test_every_kind_runs_end_to_end_through_the_harness(project, kind, name):
    metrics = json.loads((project / "metrics" / f"{name}.json").read_text())
    assert metrics and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()), metrics
    run = json.loads((project / "results" / name / "run.json").read_text())
    assert (run["experiment"], run["kind"]) == (name, kind)
    assert run["main_metric"] in metrics or run["main_metric"] in run["info"]
    assert run["data_sha256"] and run["source"] and run["data_fidelity"] in ("full", "subset", "stand-in", "other")
    assert list((project / "plots" / name).glob("*.png")), "no figure"

    [top] = mlflow_runs(project, name)  # exactly one run, FINISHED, with params, tags and metrics
    assert top.info.status == "FINISHED" and top.info.run_id == run["mlflow_run_id"]
    assert top.data.params["experiment.reproduces"] == run["reproduces"]
    for tag in ("git_commit", "dvc_stage", "dataset", "source", "data_sha256", "reprozoo_experiment"):
        assert top.data.tags.get(tag), tag
    measures = {k for k in metrics if k not in ("train_seconds", "epochs") and not k.endswith("_samples")}
    assert measures <= set(top.data.metrics), measures - set(top.data.metrics)
    if kind in ("image_classifier", "names_gru"):
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
        history = client.get_metric_history(top.info.run_id, "train_loss")
        assert [m.step for m in history] == list(range(1, metrics["epochs"] + 1))  # per-epoch curve
        assert (project / "models" / name / "MLmodel").exists()
        assert client.search_logged_models([top.info.experiment_id]), "no logged model"


def test_linear_regression_has_one_parent_run_with_a_child_per_optimizer(project):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    [parent] = mlflow_runs(project, "s002-linear-regression")
    experiment = client.get_experiment_by_name("s002-linear-regression").experiment_id
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(c.info.run_name for c in children) == ["lbfgs", "sgd"]
    assert all(c.info.status == "FINISHED" and client.get_metric_history(c.info.run_id, "loss") for c in children)


def test_spread_runs_score_other_seeds_each_in_an_mlflow_run_of_its_seed(project):
    from mlflow.tracking import MlflowClient

    found = json.loads((project / "results" / "spread" / "s003-cnn-mnist.json").read_text())
    assert found["metric"] == "test_accuracy" and list(found["runs"]) == ["7"]
    assert 0 < found["runs"]["7"]["test_accuracy"] <= 1 and found["runs"]["7"]["test_loss"] > 0
    runs = mlflow_runs(project, "s003-cnn-mnist", spread=True)
    spread = [r for r in runs if r.data.tags.get("reprozoo.spread_seed")]
    assert len(runs) == 2 and len(spread) == 1
    [seeded] = spread
    assert seeded.data.tags["reprozoo.spread_seed"] == "7" and seeded.info.status == "FINISHED"
    assert seeded.data.params["experiment.seed"] == "7" and seeded.info.run_name == "s003-cnn-mnist seed 7"
    assert seeded.data.metrics["test_accuracy"] == pytest.approx(found["runs"]["7"]["test_accuracy"], rel=1e-5)
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    assert len(client.get_metric_history(seeded.info.run_id, "train_loss")) == 1  # its epochs, as a run's
    assert not client.search_logged_models([seeded.info.experiment_id], filter_string=f"source_run_id = "
                                           f"'{seeded.info.run_id}'")  # no model kept of a spread run
    row = next(r for r in json.loads((project / "metrics" / "report.json").read_text())["rows"]
               if r["experiment"] == "s003-cnn-mnist")
    assert row["spread"]["n"] == 2 and row["seeds"] == [1, 7]
    assert set(row["figure_spreads"]) == {"test_accuracy", "test_loss", "test_samples", "train_samples"}


def test_a_probe_names_the_run_it_probed(project):
    run = json.loads((project / "results" / "s000-rnn-activations" / "run.json").read_text())
    trained = json.loads((project / "models" / "s000-rnn-mnist" / "run.json").read_text())
    assert run["info"]["hooked_run_id"] == trained["mlflow_run_id"]
    assert run["info"]["activation_shape"] == "28x128x8"


def test_models_are_registered_and_runs_name_their_data(project):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    for name in ("s003-cnn-mnist", "s002-names-gru"):
        [top] = mlflow_runs(project, name)
        registered = client.get_registered_model(f"reprozoo-{name}")
        versions = {str(v.version): v for v in client.search_model_versions(f"name='reprozoo-{name}'")}
        assert set(registered.aliases) == {"candidate", "champion"}, registered.aliases
        champion = versions[str(registered.aliases["champion"])]
        assert champion.run_id == top.info.run_id  # evaluated, so promoted
        contexts = {i.tags[0].value: i.dataset for i in top.inputs.dataset_inputs}
        assert set(contexts) == {"training", "test"} and contexts["test"].name.endswith("/test")
        [model] = client.search_logged_models([top.info.experiment_id])
        assert champion.source == f"models:/{model.model_id}"  # the registered version is the run's model
        assert {m.key: m.dataset_name for m in model.metrics}["test_accuracy"] == contexts["test"].name
        experiment = client.get_experiment(top.info.experiment_id)
        assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI opens on runs
        assert top.data.tags["reprozoo.owner_pid"].isdigit() and top.data.tags["reprozoo.owner_host"]


def test_evaluating_after_the_store_was_reset_logs_to_a_new_run(project, tmp_path):
    # mlflow.db deleted since training (or the model restored from the run-cache of another store):
    # the evaluation gets a run of its own that names the training's run, instead of a traceback.
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(project, repo, symlinks=True, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts"))
    trained = json.loads((repo / "models" / "s003-cnn-mnist" / "run.json").read_text())["mlflow_run_id"]
    result = check(["python", "stages/run.py", "s003-cnn-mnist", "evaluate"], repo)
    assert f"the training's MLflow run {trained} is not in this store" in result.stdout + result.stderr
    [run] = mlflow_runs(repo, "s003-cnn-mnist")
    assert run.info.status == "FINISHED" and run.data.tags["reprozoo.trained_in_run"] == trained
    assert "test_accuracy" in run.data.metrics
    assert json.loads((repo / "results" / "s003-cnn-mnist" / "run.json").read_text())["mlflow_run_id"] == run.info.run_id


def test_the_names_command_prints_a_trained_models_three_likeliest_countries(project):
    out = check(["python", "-m", "reprozoo.names", "Sato", "Fischer"], project).stdout.splitlines()
    assert [line.split(":")[0] for line in out] == ["Sato", "Fischer"]
    assert all(sorted(c.split()[0] for c in line.split(": ")[1].split(", ")) == ["German", "Italian", "Japanese"]
               for line in out), out
    bad = subprocess.run([sys.executable, "-m", "reprozoo.names"], cwd=project, env=env_for(project),
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr == "error: usage: python -m reprozoo.names [--model FOLDER] NAME...\n"
