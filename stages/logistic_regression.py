"""logistic-regression@<name>: seed 002's Linear(1, 1) + sigmoid on x = [1, 2, 3], y = [0, 0, 1]."""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.errors import run_main
from reprozoo.zoo.common import Timer, data_record, log_series, mlflow_run, save_figure, start, write_metrics, \
    zoo_params
from reprozoo.zoo.regression import LINEAR_X, LOGISTIC_Y, fit_logistic, half_probability_x


def main() -> None:
    import matplotlib.pyplot as plt
    import mlflow
    import torch

    name = sys.argv[1]
    params, p = zoo_params("logistic_regression", name)
    start(params, p.seed)
    data = data_record("three-points", "seed 002 (three points in the code)", {"x": LINEAR_X, "y": LOGISTIC_Y})
    with mlflow_run(name, p.reproduces, data, f"logistic-regression@{name}", p) as run:
        timer = Timer()
        model, losses = fit_logistic(p.lr, p.epochs, p.seed)
        seconds = timer.seconds()
        log_series("loss", losses)
        crossing = half_probability_x(model)
        xs = torch.linspace(0, 10, 200).view(-1, 1)  # the seed's curve over x in [0, 10]
        with torch.no_grad():
            probs = torch.sigmoid(model(xs)).flatten()
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.plot(xs.flatten(), probs, label="p(class 1 | x)")
        ax.axhline(0.5, color="r", label="p = 0.5")
        ax.axvline(crossing, color="gray", linestyle=":", label=f"crosses 0.5 at x = {crossing:.2f}")
        ax.scatter(LINEAR_X.flatten(), LOGISTIC_Y.flatten(), color="k", zorder=3, label="training points")
        ax.set(xlabel="x", ylabel="probability", ylim=(-0.05, 1.05),
               title=f"logistic regression, SGD {p.lr}, {p.epochs} epochs (seed: crosses between 2 and 3)")
        ax.grid(True)
        ax.legend(fontsize=8)
        figure = save_figure(fig, ROOT / "plots" / name / "probability_curve.png")
        mlflow.log_metrics({"x_at_p_half": crossing, "final_loss": losses[-1]})
        results = {"x_at_p_half": round(crossing, 6), "crosses_between_2_and_3": 2 < crossing < 3,
                   "weight": model.weight.item(), "bias": model.bias.item(), "final_loss": losses[-1],
                   "epochs": p.epochs}
        write_metrics(name, p, data, results, figure, run.info.run_id, seconds, "x_at_p_half")
    print(f"{name}: p = 0.5 at x = {crossing:.3f} (seed: between 2 and 3), final BCE {losses[-1]:.4f}")


if __name__ == "__main__":
    run_main(main)
