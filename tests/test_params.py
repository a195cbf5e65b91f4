"""params.yaml parsing: the real file loads; mistakes are one clear line naming key, value and what is allowed."""

from __future__ import annotations

import copy

import pytest
import yaml

from reprozoo import ROOT
from reprozoo.errors import ReprozooError
from reprozoo.params import ExperimentParams, parse_params

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_real_params_load(params):
    assert params.runtime.device in ("auto", "cpu", "cuda")
    assert set(params.experiments) >= {"s000-rnn-mnist", "s001-lstm-mnist", "s003-cnn-mnist", "s003-lstm-mnist"}
    exp = params.experiments["s000-rnn-mnist"]
    assert isinstance(exp, ExperimentParams)
    assert exp.model_args["identity_init"] is True
    with pytest.raises(Exception):  # frozen: a stage cannot change the source of truth
        exp.lr = 1.0


def with_change(path: str, value):
    raw = copy.deepcopy(RAW)
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    node[last] = value
    return raw


@pytest.mark.parametrize("path, value, expected", [
    ("experiments.s000-rnn-mnist.epochs", "ten", "experiments.s000-rnn-mnist.epochs: 'ten' is not an integer"),
    ("experiments.s000-rnn-mnist.lr", -1, "experiments.s000-rnn-mnist.lr: -1 is out of range; allowed: a number > 0"),
    ("experiments.s000-rnn-mnist.batch_size", 0, "batch_size: 0 is out of range"),
    ("experiments.s000-rnn-mnist.model", "resnet9000", "model: 'resnet9000' is unknown; allowed:"),
    ("experiments.s000-rnn-mnist.optimizer", "adamw", "optimizer: 'adamw' is unknown; allowed: sgd, adam"),
    ("experiments.s000-rnn-mnist.dataset", "imagenet", "dataset: 'imagenet' is not under datasets"),
    ("experiments.s000-rnn-mnist.reproduces", "s999", "reproduces: 's999' is unknown"),
    ("experiments.s000-rnn-mnist.lrr", 0.1, "experiments.s000-rnn-mnist.lrr: unknown key; allowed:"),
    ("datasets.mnist.source", "s3", "datasets.mnist.source: 's3' is unknown; allowed: embedded, torchvision, path"),
    ("datasets.mnist.val_fraction", 1.5, "val_fraction: 1.5 is out of range"),
    ("runtime.device", "tpu", "runtime.device: 'tpu' is unknown; allowed: auto, cpu, cuda"),
    ("runtime.threads", True, "runtime.threads: True is not an integer"),
])
def test_bad_values_name_key_value_and_allowed(path, value, expected):
    with pytest.raises(ReprozooError) as err:
        parse_params(with_change(path, value))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_required_key():
    raw = copy.deepcopy(RAW)
    del raw["experiments"]["s001-lstm-mnist"]["lr"]
    with pytest.raises(ReprozooError, match=r"experiments.s001-lstm-mnist.lr: missing"):
        parse_params(raw)


def test_path_source_needs_a_path():
    with pytest.raises(ReprozooError, match=r"datasets.mnist.path: required"):
        parse_params(with_change("datasets.mnist.source", "path"))


def test_integer_is_accepted_where_a_number_is_expected():
    assert parse_params(with_change("experiments.s000-rnn-mnist.lr", 1)).experiments["s000-rnn-mnist"].lr == 1.0


def test_fashion_mnist_is_one_entry_away_and_checks_its_source():
    raw = copy.deepcopy(RAW)
    raw["datasets"]["fashion_mnist"] = {"source": "system", "path": None, "val_fraction": 0.1, "seed": 0}
    raw["experiments"]["s002-mnist-fc"]["dataset"] = "fashion_mnist"
    assert parse_params(raw).experiments["s002-mnist-fc"].dataset == "fashion_mnist"
    raw["datasets"]["fashion_mnist"]["source"] = "embedded"
    with pytest.raises(ReprozooError, match="datasets.fashion_mnist.source: 'embedded' is unknown; allowed: system, "
                                            "torchvision, path"):
        parse_params(raw)


def test_stand_ins_are_the_offline_defaults_and_the_real_data_one_param_away(params):
    assert params.datasets["cifar10"].source == "standin" and params.datasets["cats_dogs"].source == "standin"
    for name, real in (("cifar10", "torchvision"), ("cats_dogs", "path")):
        changed = with_change(f"datasets.{name}.source", real)
        changed["datasets"][name]["path"] = "/data/real"
        assert parse_params(changed).datasets[name].source == real


def test_permute_pixels_must_be_a_boolean():
    with pytest.raises(ReprozooError, match="experiments.s004-fc-mnist-permuted.permute_pixels: 'yes' is not true or "
                                            "false"):
        parse_params(with_change("experiments.s004-fc-mnist-permuted.permute_pixels", "yes"))
