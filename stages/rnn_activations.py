"""rnn-activations@<name>: seed 000's forward hook on the trained s000 RNN, for one test batch."""

from __future__ import annotations

import json
import sys

from reprozoo import ROOT
from reprozoo.classifier import build_classifier
from reprozoo.data.files import save_tensors
from reprozoo.data.split import load_split
from reprozoo.errors import ReprozooError, run_main
from reprozoo.params import experiment
from reprozoo.zoo.common import Timer, mlflow_run, save_figure, start, write_metrics, zoo_params
from reprozoo.zoo.sequences import capture_rnn_outputs


def main() -> None:
    import matplotlib.pyplot as plt
    import mlflow
    import mlflow.pytorch

    name = sys.argv[1]
    params, p = zoo_params("rnn_activations", name)
    exp = experiment(params, p.model_of)
    start(params, 0)
    model_dir = ROOT / "models" / p.model_of
    if not (model_dir / "train.json").exists():
        raise ReprozooError(f"{model_dir}: no trained model; create it with: dvc repro train@{p.model_of}")
    trained = json.loads((model_dir / "train.json").read_text())
    split = load_split(ROOT / "data" / "splits" / exp.dataset, exp.dataset, ("test",))
    images = split.test["images"][:p.batch_size].float().div(255)  # the first test batch, (B, 1, 28, 28) in [0, 1]
    # The saved model is a torch.export program: its graph has no modules to hook. So the
    # ImageClassifier is rebuilt from params and given the trained weights from that program.
    exported = mlflow.pytorch.load_model(str(model_dir), map_location="cpu")
    model = build_classifier(exp, split.manifest)
    model.load_state_dict(exported.state_dict())
    rnn = model.net.rnn
    data = {"dataset": exp.dataset, "source": split.manifest["source"], "data_sha256": split.manifest["data_sha256"],
            "hooked_run_id": trained["run_id"], "hooked_module": "net.rnn"}
    with mlflow_run(name, p.reproduces, data, f"rnn-activations@{name}", p,
                    extra_params={"hooked_experiment": p.model_of}) as run:
        mlflow.set_tag("hooked_run_id", trained["run_id"])
        timer = Timer()
        acts = capture_rnn_outputs(model, rnn, images)  # (28 steps, batch, 150), the seed's layout
        seconds = timer.seconds()
        stats = {
            "shape": list(acts.shape),
            "layout": "(steps, batch, hidden): our batch_first (batch, steps, hidden) output transposed",
            "mean": round(acts.mean().item(), 6), "std": round(acts.std().item(), 6),
            "saturated_fraction": round((acts.abs() > 0.99).float().mean().item(), 6),  # tanh near +-1
            "mean_abs_by_step": [round(v, 5) for v in acts.abs().mean((1, 2)).tolist()],
            "last_step_shape": list(acts[-1].shape),
        }
        out = ROOT / "results" / name
        save_tensors(out / "activations.pt", {"activations": acts, "labels": split.test["labels"][:p.batch_size]})
        mlflow.log_artifact(str(out / "activations.pt"))
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
        im = ax1.imshow(acts.abs().mean(1).T, aspect="auto", cmap="viridis")
        ax1.set(xlabel="time step (image row)", ylabel="hidden unit", title=f"mean |activation| over {acts.shape[1]} "
                "test images")
        fig.colorbar(im, ax=ax1)
        im = ax2.imshow(acts[:, 0].T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
        ax2.set(xlabel="time step (image row)", ylabel="hidden unit",
                title=f"first test image (label {int(split.test['labels'][0])})")
        fig.colorbar(im, ax=ax2)
        fig.suptitle(f"{p.model_of}: last RNN layer's outputs, shape {tuple(acts.shape)}")
        figure = save_figure(fig, ROOT / "plots" / name / "activations_heatmap.png")
        mlflow.log_metrics({"saturated_fraction": stats["saturated_fraction"], "mean_abs": acts.abs().mean().item()})
        write_metrics(name, p, data, {"activations": stats, "batch_size": p.batch_size,
                                      "activation_shape": "x".join(map(str, stats["shape"]))}, figure, run.info.run_id,
                      seconds, "activation_shape")
    print(f"{name}: hooked {p.model_of}'s RNN: outputs {tuple(acts.shape)} (seed: torch.Size([28, 128, 150])), "
          f"{stats['saturated_fraction']:.1%} saturated")


if __name__ == "__main__":
    run_main(main)
