"""`make bench`: both training paths run in their own processes and the JSON carries what the README table needs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torchvision import datasets

from reprozoo import ROOT
from reprozoo.perf.bench import seed_style_dataset
from reprozoo.data.mnist import from_embedded
from reprozoo.data.split import write_splits


def test_bench_runs_both_paths_and_reports_medians(tmp_path):
    raw = from_embedded()
    keep = list(range(0, 5000, 20))  # 250 real digits, 25 per class: seconds, not minutes
    raw.images, raw.labels, raw.is_test = raw.images[keep], raw.labels[keep], raw.is_test[keep]
    write_splits(tmp_path / "mnist", raw, {"dataset": "mnist"}, 0.1, 0.2, 0)
    cmd = [sys.executable, "-m", "reprozoo.perf.bench", "--experiments", "s000-rnn-mnist", "--epochs", "1",
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
    # The speedup pairs the runs of each turn: the median of project / seed-style run by run.
    ratios = [p / s for p, s in zip(row["project"]["samples_per_s_runs"], row["seed-style"]["samples_per_s_runs"])]
    assert row["speedup_runs"] == [round(r, 3) for r in ratios]
    assert row["speedup"] == round((ratios[0] + ratios[1]) / 2, 2)
    # Against the hardware: the same run measured the matmul peak, and each path is held to it.
    peak = report["matmul_peak"]["peak_gflops"]
    assert peak == max(report["matmul_peak"]["gflops_by_size"].values()) > 0
    for path in ("project", "seed-style"):
        r = row[path]
        assert r["flop_per_sample"] == 19_244_400  # s000's count (test below), whichever path trains
        assert r["gflops"] == pytest.approx(r["samples_per_s"] * r["flop_per_sample"] / 1e9, rel=1e-3)
        assert r["roofline_fraction"] == round(r["gflops"] / peak, 3)


def test_flop_count_of_s000_matches_a_count_by_hand():
    """The counter's FLOP for s000's 3-layer, 150-unit RNN over 28 rows of 28 pixels, worked out by hand."""
    import torch.nn.functional as F

    from reprozoo.perf.roofline import flop_per_sample
    from reprozoo.models import create_model

    model = create_model("image_rnn", (1, 28, 28), 10, cell="rnn", hidden_size=150, num_layers=3)
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    steps, h, mac = 28, 150, 2  # a multiply-add is 2 FLOP
    forward = steps * mac * (28 * h + h * h + 2 * (h * h + h * h)) + mac * h * 10  # layer 1, layers 2-3, head
    weight_grads = forward  # each weight's gradient is one product the size of its forward one
    input_grads = (mac * h * 10  # into the last state
                   + steps * mac * 2 * h * h  # into layers 2 and 3 from the layer below
                   + (steps - 1) * mac * 3 * h * h)  # back through time; none into the zero initial state
    assert flop_per_sample(model, F.cross_entropy, x, y) == forward + weight_grads + input_grads == 19_244_400


@pytest.mark.parametrize("shape, cls", [((1, 28, 28), datasets.MNIST), ((3, 32, 32), datasets.CIFAR10)])
def test_seed_style_reference_is_torchvisions_dataset_giving_the_same_pixels(shape, cls):
    from reprozoo.training.loop import as_input

    images = torch.randint(0, 256, (5, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    dataset = seed_style_dataset(images, torch.tensor([4, 3, 2, 1, 0]))
    assert type(dataset) is cls and len(dataset) == 5
    x, y = dataset[1]  # through PIL and ToTensor, as in the seeds
    assert y == 3 and type(y) is int
    assert torch.equal(x, as_input(images[1]))  # what the project's path trains on


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine this would run the whole GPU check")
def test_gpu_check_without_a_gpu_stops_with_one_line(tmp_path):
    out = subprocess.run(["bash", ".ci/gpu", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["error: no CUDA device is visible; .ci/gpu measures the GPU path and needs "
                                       "a GPU machine"]


def test_the_bench_reads_its_experiments_from_params_and_names_a_wrong_one_in_one_line():
    from reprozoo.config.params import load_params

    assert load_params().tools.bench[:3] == ["s000-rnn-mnist", "s001-lstm-mnist", "s003-cnn-mnist"]
    for name, says in (("s002-linear-regression", "a linear_regression experiment; the bench times image "
                                                  "classifiers only"), ("nope", "'nope' is not in params.yaml")):
        out = subprocess.run([sys.executable, "-m", "reprozoo.perf.bench", "--experiments", name],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and says in out.stderr, out.stderr
