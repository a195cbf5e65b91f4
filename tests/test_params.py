"""params.yaml as pydantic models: the real file loads, frozen; every mistake is one line naming key, value and
what is allowed, all of them at once; editors get the committed JSON schema; a stage reports them and exits 2."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from pydantic import ValidationError

from reprozoo import ROOT
from reprozoo.config.errors import ReprozooError
from reprozoo.config.params import parse_params, schema
from reprozoo.tasks import experiment, image_classifier, kinds, probe

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())
MNIST_RNN = "experiments.image_classifier.s000-rnn-mnist"


def with_changes(changes: dict) -> dict:
    """A deep copy of the real params with dotted keys set (experiment names hold no dots)."""
    raw = copy.deepcopy(RAW)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[last] = value
    return raw


def error_lines(raw: dict) -> list[str]:
    with pytest.raises(ReprozooError) as err:
        parse_params(raw, kinds())
    return str(err.value).splitlines()


def test_real_params_load_by_kind_and_are_frozen(params):
    found = params.all()
    assert {kind for kind, _ in found.values()} == {"image_classifier", "linear_regression", "logistic_regression",
                                                     "tabular_mlp", "char_rnn", "names_gru", "sin_cos", "svd", "probe"}
    task, exp = experiment(params, "s000-rnn-mnist")
    assert task.kind == "image_classifier" and isinstance(exp, image_classifier.Params)
    assert exp.model_args["identity_init"] is True
    assert isinstance(experiment(params, "s000-rnn-activations")[1], probe.Params)
    assert params.datasets.names.source == "embedded" and "lenet-digits" in params.backbones
    assert set(params.spread.experiments) <= set(found)
    assert all(params.all()[n][0] == e.kind for n, e in params.spread.experiments.items())
    with pytest.raises(ValidationError):  # frozen: a stage cannot change the source of truth
        exp.lr = 1.0
    with pytest.raises(ValidationError):
        params.runtime = None
    with pytest.raises(ReprozooError, match="'nope' is not in params.yaml; known: s000-rnn-mnist, "):
        params.experiment("nope")


@pytest.mark.parametrize("path, value, key, expected", [
    (f"{MNIST_RNN}.epochs", "10", None, "'10': allowed: a valid integer"),  # strict: YAML's "10" is not 10
    (f"{MNIST_RNN}.lr", -1, None, "-1: allowed: greater than 0"),
    ("experiments.char_rnn.s002-char-rnn-cell.lr", -0.5, None, "-0.5: allowed: greater than 0"),
    (f"{MNIST_RNN}.batch_size", 0, None, "0: allowed: greater than 0"),
    ("experiments.names_gru.s002-names-gru.batch_size", 0, None, "0: allowed: greater than 0"),
    (f"{MNIST_RNN}.optimizer", "adamw", None, "'adamw': allowed: 'sgd', 'adam', 'adagrad', 'adamax', 'asgd', "
                                              "'lbfgs', 'rmsprop' or 'rprop'"),
    ("experiments.linear_regression.s002-linear-regression.optimizers", ["sgd", "adamw"],
     "experiments.linear_regression.s002-linear-regression.optimizers.1", "'adamw': allowed: 'sgd', 'adam'"),
    (f"{MNIST_RNN}.reproduces", "s999", None, "'s999': allowed: 's000-rnn-mnist', 's000-rnn-activations'"),
    (f"{MNIST_RNN}.permute_pixels", "yes", None, "'yes': allowed: a valid boolean"),
    ("datasets.mnist.source", "s3", None, "'s3': allowed: 'pypi', 'embedded', 'torchvision' or 'path'"),
    ("datasets.names.source", "s3", None, "'s3': allowed: 'embedded', 'csv' or 'tutorial'"),
    ("datasets.mnist.val_fraction", 1.5, None, "1.5: allowed: less than 1"),
    ("runtime.device", "tpu", None, "'tpu': allowed: 'auto', 'cpu' or 'cuda'"),
    ("runtime.threads", True, None, "True: allowed: a valid integer"),
    ("experiments.sin_cos.s003-rnn-regression.lrr", 0.1, None,
     "unknown key; allowed: reproduces, seed, deviation, hidden_size, time_step, windows, test_windows, lr"),
    ("experiments.tpu", {}, None, "unknown key; allowed: char_rnn, image_classifier, linear_regression, "
                                  "logistic_regression, names_gru, probe, sin_cos, svd, tabular_mlp"),
    # the cross-checks: names that must exist, shapes that must agree, names that must be unique
    (f"{MNIST_RNN}.dataset", "fashion_mnist", None, "'fashion_mnist' is not under datasets"),
    ("experiments.probe.s000-rnn-activations.of", "s002-linear-regression", None,
     "'s002-linear-regression' is not an image_classifier experiment; allowed: s000-rnn-mnist, s001-lstm-mnist, "),
    ("spread.experiments.nope", {"kind": "char_rnn", "runs": 2}, None, "not under experiments.char_rnn"),
    ("spread.experiments.s001-lstm-mnist.runs", 9, None, "9; allowed: at most 8"),
    ("tools.benchmark", [], None, "unknown key; allowed: bench, ui_picture"),
    ("experiments.image_classifier.s004-vgg16-transfer.model_args", {"backbone": "resnet"},
     "experiments.image_classifier.s004-vgg16-transfer.model_args.backbone",
     "'resnet'; allowed: vgg16-imagenet, vgg16-random, lenet-digits"),
    ("experiments.tabular_mlp.s002-breast-cancer-mlp.activations", ["relu"], None,
     "1 given; allowed: one per hidden layer (5)"),
    ("experiments.svd.s003-rnn-regression", {"reproduces": "s004-svd-compression"}, None,
     "name already used under experiments.sin_cos"),
])
def test_a_bad_value_is_one_line_naming_key_value_and_what_is_allowed(path, value, key, expected):
    (line,) = error_lines(with_changes({path: value}))
    assert line.startswith(f"params.yaml: {key or path}: "), line
    assert expected in line, line


def test_a_missing_required_key_is_named():
    raw = copy.deepcopy(RAW)
    del raw["experiments"]["image_classifier"]["s001-lstm-mnist"]["lr"]
    assert error_lines(raw) == ["params.yaml: experiments.image_classifier.s001-lstm-mnist.lr: missing; it is required"]
    raw = copy.deepcopy(RAW)
    del raw["datasets"]["names"]
    assert error_lines(raw) == ["params.yaml: datasets.names: missing; the names_gru experiments read it"]


@pytest.mark.parametrize("dataset, source", [("mnist", "path"), ("cats_dogs", "path"), ("names", "csv"),
                                             ("names", "tutorial")])
def test_a_local_source_needs_a_path(dataset, source):
    assert error_lines(with_changes({f"datasets.{dataset}.source": source})) == [
        f"params.yaml: datasets.{dataset}.path: required when source is {source!r}"]
    ok = parse_params(with_changes({f"datasets.{dataset}.source": source, f"datasets.{dataset}.path": "/data/x"}))
    assert getattr(ok.datasets, dataset).path == "/data/x"


def test_an_integer_is_accepted_where_a_number_is_expected():
    p = parse_params(with_changes({f"{MNIST_RNN}.lr": 1, "experiments.linear_regression.s002-linear-regression."
                                                         "predict_at": 4}), kinds())
    lr = experiment(p, "s000-rnn-mnist")[1].lr
    assert lr == 1.0 and isinstance(lr, float)
    assert experiment(p, "s002-linear-regression")[1].predict_at == 4.0


def test_several_bad_keys_give_one_line_each_and_nothing_else():
    lines = error_lines(with_changes({"runtime.threads": 0, "datasets.cifar10.source": "s3", f"{MNIST_RNN}.lr": "fast",
                                      "experiments.char_rnn.s002-char-rnn-rnn.epochs": -3, f"{MNIST_RNN}.lrr": 1}))
    assert all(line.startswith("params.yaml: ") for line in lines), lines
    assert sorted(line.split(": ")[1] for line in lines) == sorted([
        "runtime.threads", "datasets.cifar10.source", f"{MNIST_RNN}.lr", f"{MNIST_RNN}.lrr",
        "experiments.char_rnn.s002-char-rnn-rnn.epochs"]), lines
    lines = error_lines(with_changes({"experiments.probe.s003-cnn-tsne.of": "s003-rnn-regression",
                                      "spread.experiments.x": {"kind": "image_classifier", "runs": 2}}))
    assert [line.split(": ")[1] for line in lines] == ["experiments.probe.s003-cnn-tsne.of", "spread.experiments.x"]


def test_cross_check_problems_are_reported_beside_bad_values():
    """Every bad key at once: a wrong probe `of` must not wait until a bad lr elsewhere is fixed."""
    lines = error_lines(with_changes({"runtime.threads": 0, "experiments.probe.s003-cnn-tsne.of": "s003-rnn-regression",
                                      "spread.experiments.x": {"kind": "image_classifier", "runs": 2}}))
    assert sorted(line.split(": ")[1] for line in lines) == [
        "experiments.probe.s003-cnn-tsne.of", "runtime.threads", "spread.experiments.x"], lines


def test_fashion_mnist_is_one_entry_away_and_checks_its_source():
    entry = {"source": "system", "path": None, "val_fraction": 0.1, "seed": 0}
    raw = with_changes({"datasets.fashion_mnist": entry, "experiments.image_classifier.s002-mnist-fc.dataset":
                        "fashion_mnist"})
    assert experiment(parse_params(raw, kinds()), "s002-mnist-fc")[1].dataset == "fashion_mnist"
    raw["datasets"]["fashion_mnist"]["source"] = "embedded"
    assert error_lines(raw) == ["params.yaml: datasets.fashion_mnist.source: 'embedded': allowed: 'system', "
                                "'torchvision' or 'path'"]


def test_stand_ins_are_the_offline_defaults_and_the_real_data_one_param_away(params):
    assert params.datasets.cifar10.source == "standin" and params.datasets.cats_dogs.source == "standin"
    for name, real in (("cifar10", "torchvision"), ("cats_dogs", "path")):
        changed = with_changes({f"datasets.{name}.source": real, f"datasets.{name}.path": "/data/real"})
        assert getattr(parse_params(changed).datasets, name).source == real


def test_committed_schema_is_the_models_and_params_yaml_names_it():
    assert (ROOT / "params.schema.json").read_text() == schema(kinds()), \
        "params.schema.json is stale; run: python -m reprozoo.tasks --schema > params.schema.json"
    assert (ROOT / "params.yaml").read_text().splitlines()[0] == "# yaml-language-server: $schema=params.schema.json"


def test_a_stage_with_bad_params_prints_one_error_line_per_key_and_exits_2(tmp_path):
    for folder in ("stages", "src"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    raw = with_changes({"runtime.threads": 0, "experiments.sin_cos.s003-rnn-regression.lr": -1,
                        "experiments.sin_cos.s003-rnn-regression.windowz": 3})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src"), "DVC_STAGE": "x"}  # DVC_STAGE: ROOT is the cwd
    result = subprocess.run([sys.executable, "stages/run.py", "s003-rnn-regression"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert all(line.startswith("error: params.yaml: ") for line in lines), lines
    assert sorted(line.split(": ")[2] for line in lines) == [
        "experiments.sin_cos.s003-rnn-regression.lr", "experiments.sin_cos.s003-rnn-regression.windowz",
        "runtime.threads"]


def test_a_stage_reads_its_own_kind_once_typed_and_the_others_by_shape():
    """Without the kinds, the experiments are checked by shape and not read; a stage reads its own kind's, each
    typed by the kind's model in the one pass, and leaves the other kinds to check-params."""
    raw = with_changes({f"{MNIST_RNN}.lr": "fast", "experiments.sin_cos.s003-rnn-regression.lrr": 1})
    loose = parse_params(raw)
    assert loose.experiments is None and loose.names()["s003-rnn-regression"] == "sin_cos"
    with pytest.raises(ReprozooError) as err:
        parse_params(raw, {"image_classifier": image_classifier.Params}, partial=True)
    assert str(err.value) == f"params.yaml: {MNIST_RNN}.lr: 'fast': allowed: a valid number"
    own = parse_params(RAW, {"probe": probe.Params}, partial=True)
    assert list(own.experiments) == ["probe"] and isinstance(own.experiments["probe"]["s003-cnn-tsne"], probe.Params)
    assert [kind for kind, _ in own.all().values()] == ["probe"] * len(own.experiments["probe"])
    assert error_lines(with_changes({"experiments.least_squares": {"x": {}}})) == [
        "params.yaml: experiments.least_squares: unknown key; allowed: " + ", ".join(sorted(kinds()))]


def test_no_experiment_is_named_in_the_code_and_params_are_read_by_config_only():
    """Lists of experiments live in params.yaml (a new one joins every tool by a line there), and params.yaml is
    parsed in config/params.py only: a literal experiment name in src/ or stages/, or another YAML reader of
    params.yaml, fails here. config/catalogue.py holds the seeds' ids, which many experiments share as names."""
    import ast

    names = {name for entries in RAW["experiments"].values() for name in entries}
    named, readers = [], []
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "stages").glob("*.py")]:
        rel, text = path.relative_to(ROOT).as_posix(), path.read_text()
        if rel != "src/reprozoo/config/catalogue.py":
            named += [f"{rel}:{n.lineno}: {n.value}" for n in ast.walk(ast.parse(text))
                      if isinstance(n, ast.Constant) and n.value in names]
        readers += [f"{rel}:{n.lineno}" for n in ast.walk(ast.parse(text)) if rel != "src/reprozoo/config/params.py"
                    and isinstance(n, ast.Call) and getattr(n.func, "attr", "").endswith("load")
                    and "yaml" in ast.unparse(n.func) and "params" in ast.unparse(n.args[:1] or n.func)]
    assert not named, named
    assert not readers, readers
