"""tsne <experiment> [samples]: seed 003's picture, t-SNE of a classifier's last-layer features on 500 test images."""

from __future__ import annotations

import json
import sys

import torch

from reprozoo import ROOT
from reprozoo.classifier import build_classifier
from reprozoo.data.split import load_split
from reprozoo.errors import ReprozooError, run_main
from reprozoo.figures import last_layer_features, save_png, tsne_2d, tsne_figure
from reprozoo.params import experiment, load_params
from reprozoo.runtime import configure
from reprozoo.tracking import tracking_uri

SAMPLES = 500  # seed 003: plot_only = 500 test images


def main() -> None:
    import mlflow
    import mlflow.pytorch

    name = sys.argv[1]
    params = load_params()
    exp = experiment(params, name)
    configure("cpu", params.runtime.threads, params.runtime.deterministic)
    model_dir = ROOT / "models" / name
    if not (model_dir / "train.json").exists():
        raise ReprozooError(f"{model_dir}: no trained model; create it with: dvc repro train@{name}")
    split = load_split(ROOT / "data" / "splits" / exp.dataset, exp.dataset, ("test",))
    # The seed takes the official test set's first 500, which mixes all classes; our split is stored class by
    # class, so its first 500 would be digits 0-4 only. A seeded sample keeps it mixed and reproducible.
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else SAMPLES  # tests shrink it
    pick = torch.randperm(len(split.test["labels"]), generator=torch.Generator().manual_seed(0))[:samples]
    images, labels = split.test["images"][pick], split.test["labels"][pick]
    # The saved model is a torch.export graph without its nn.Modules; rebuild the net and load its weights,
    # so the features can be taken with a forward hook.
    model = build_classifier(exp, split.manifest)
    model.load_state_dict(mlflow.pytorch.load_model(str(model_dir), map_location="cpu").state_dict())
    features = last_layer_features(model, images)
    embedding = tsne_2d(features, seed=0)
    title = f"{name}: t-SNE of last-layer features ({features.shape[1]}-d), {len(labels)} test images"
    path = save_png(tsne_figure(embedding, labels.numpy(), split.manifest["classes"], title),
                    ROOT / "plots" / name / "tsne.png")
    mlflow.set_tracking_uri(tracking_uri())
    with mlflow.start_run(run_id=json.loads((model_dir / "train.json").read_text())["run_id"]):
        mlflow.log_artifact(str(path), artifact_path="evaluation")
    print(f"tsne {name}: {features.shape} features -> {path.relative_to(ROOT)}")


if __name__ == "__main__":
    run_main(main)
