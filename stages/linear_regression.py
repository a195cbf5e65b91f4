"""linear-regression: seed 002's Linear(1, 1) on y = 2x, under each optimizer in params.

`python stages/linear_regression.py NAME` fits every optimizer (each its own MLflow run, into
results/NAME/OPTIMIZER.json), then plots their loss curves, runs the hand-written gradient
descent and writes metrics/NAME.json (one more run). One stage, not one per optimizer: a fit takes
~0.2 s, while each stage process spends ~10 s importing torch and MLflow.
"""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.data.files import write_json
from reprozoo.errors import ReprozooError, run_main
from reprozoo.params import Params
from reprozoo.zoo.common import Timer, data_record, log_series, mlflow_run, save_figure, start, write_metrics, \
    zoo_params
from reprozoo.zoo.params import LinearRegressionParams
from reprozoo.zoo.regression import LINEAR_X, LINEAR_Y, fit_handwritten, fit_linear, predict_handwritten

TASK = "linear_regression"


def data() -> dict:
    return data_record("y=2x", "seed 002 (three points in the code)", {"x": LINEAR_X, "y": LINEAR_Y})


def fit(name: str, params: Params, p: LinearRegressionParams, optimizer: str) -> dict:
    """One optimizer's fit, from the same seed as every other: its own MLflow run and results file."""
    import torch

    start(params, p.seed)
    with mlflow_run(name, p.reproduces, data(), "linear-regression", p, run_name=optimizer,
                    extra_params={"optimizer": optimizer}) as run:
        timer = Timer()
        model, losses = fit_linear(optimizer, p.lr, p.epochs, p.seed)
        with torch.no_grad():
            prediction = model(torch.tensor([[p.predict_at]])).item()
        log_series("loss", losses)
        import mlflow

        mlflow.log_metrics({"prediction": prediction, "final_loss": losses[-1]})
        result = {"optimizer": optimizer, "prediction": round(prediction, 6), "final_loss": losses[-1],
                  "weight": model.weight.item(), "bias": model.bias.item(), "losses": losses,
                  "seconds": round(timer.seconds(), 3), "run_id": run.info.run_id}
    write_json(ROOT / "results" / name / f"{optimizer}.json", result)
    print(f"{name}[{optimizer}]: predict({p.predict_at}) = {prediction:.4f}, final loss {losses[-1]:.3g}")
    return result


def summary(name: str, params: Params, p: LinearRegressionParams, fits: dict[str, dict]) -> None:
    import matplotlib.pyplot as plt

    start(params, p.seed)
    with mlflow_run(name, p.reproduces, data(), "linear-regression", p, run_name="summary") as run:
        timer = Timer()
        w, hand_losses = fit_handwritten(p.handwritten_lr, p.handwritten_epochs, p.seed)
        hand_prediction = predict_handwritten(w, p.predict_at)
        log_series("handwritten_loss", hand_losses)
        fig, ax = plt.subplots(figsize=(8, 5))
        for opt, f in fits.items():
            ax.plot(range(1, len(f["losses"]) + 1), [max(v, 1e-12) for v in f["losses"]],
                    label=f"{opt}: predict({p.predict_at:g}) = {f['prediction']:.3f}")
        ax.set(yscale="log", xlabel="epoch", ylabel="MSE loss (log scale)",
               title=f"Linear(1, 1) on y = 2x, lr {p.lr}, {p.epochs} epochs (seed 002)")
        ax.legend(fontsize=8)
        figure = save_figure(fig, ROOT / "plots" / name / "loss_curves.png")
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(range(1, len(hand_losses) + 1), hand_losses)
        ax.set(yscale="log", xlabel="epoch", ylabel="squared error of x = 3",
               title=f"hand-written GD on w . [x, x^2, 1]: predict(4) = {hand_prediction:.3f}")
        save_figure(fig, ROOT / "plots" / name / "handwritten_loss.png")
        results = {
            "predict_at": p.predict_at,
            "predictions": {o: f["prediction"] for o, f in fits.items()},
            "final_losses": {o: f["final_loss"] for o, f in fits.items()},
            "optimizer_run_ids": {o: f["run_id"] for o, f in fits.items()},
            "best_optimizer": min(fits, key=lambda o: abs(fits[o]["prediction"] - 2 * p.predict_at)),
            "handwritten": {"w": [round(v, 6) for v in w.tolist()], "prediction": round(hand_prediction, 6),
                            "final_loss": hand_losses[-1]},
            "epochs": p.epochs,
        }
        if "sgd" in fits:  # the seed's own fit is nn.Linear under SGD
            results["prediction_sgd"] = fits["sgd"]["prediction"]
        import mlflow

        mlflow.log_metrics({f"prediction_{o}": f["prediction"] for o, f in fits.items()})
        mlflow.log_metric("handwritten_prediction", hand_prediction)
        write_metrics(name, p, data(), results, figure, run.info.run_id, timer.seconds(),
                      "prediction_sgd" if "sgd" in fits else "best_optimizer")
    table = ", ".join(f"{o} {f['prediction']:.3f}" for o, f in fits.items())
    print(f"{name}: predict({p.predict_at}) {table}; hand-written {hand_prediction:.3f}")


def main() -> None:
    if len(sys.argv) != 2:
        raise ReprozooError("usage: linear_regression.py NAME")
    name = sys.argv[1]
    params, p = zoo_params(TASK, name)
    folder = ROOT / "results" / name
    for stale in folder.glob("*.json") if folder.exists() else ():  # optimizers since removed from params
        if stale.stem not in p.optimizers:
            stale.unlink()
    summary(name, params, p, {optimizer: fit(name, params, p, optimizer) for optimizer in p.optimizers})


if __name__ == "__main__":
    run_main(main)
