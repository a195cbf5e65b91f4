"""sin-cos@<name>: seed 003's RNN reading sin and predicting cos, hidden state carried across windows."""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.errors import run_main
from reprozoo.zoo.common import Timer, data_record, log_series, mlflow_run, save_figure, start, write_metrics, \
    zoo_params
from reprozoo.zoo.sequences import SinCosRNN, run_sin_cos, sin_cos_window


def main() -> None:
    import matplotlib.pyplot as plt
    import mlflow
    import torch

    name = sys.argv[1]
    params, p = zoo_params("sin_cos", name)
    start(params, p.seed)
    total = p.windows + p.test_windows
    windows = [sin_cos_window(s, p.time_step) for s in range(total)]
    data = data_record("sin-cos", "generated (numpy sin/cos, as the seed)",
                       {"x": torch.cat([w[1] for w in windows]), "y": torch.cat([w[2] for w in windows])})
    model = SinCosRNN(p.hidden_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=p.lr)
    with mlflow_run(name, p.reproduces, data, f"sin-cos@{name}", p) as run:
        timer = Timer()
        rows = run_sin_cos(model, optimizer, p.windows, p.test_windows, p.time_step)
        seconds = timer.seconds()
        train, test = [r for r in rows if r["train"]], [r for r in rows if not r["train"]]
        log_series("window_mse", [r["mse"] for r in rows], start_step=0)
        test_mse = sum(r["mse"] for r in test) / len(test)
        last_train_mse = sum(r["mse"] for r in train[-10:]) / min(10, len(train))
        mlflow.log_metrics({"test_mse": test_mse, "last10_train_mse": last_train_mse})
        fig, ax = plt.subplots(figsize=(12, 4.5))
        for r in rows[-(p.test_windows + 10):]:
            ax.plot(r["x"], r["target"], "r-", lw=1)
            ax.plot(r["x"], r["prediction"], "b-" if r["train"] else "g-", lw=1)
        ax.axvline(test[0]["x"][0], color="k", linestyle=":")
        ax.plot([], [], "r-", label="target cos")
        ax.plot([], [], "b-", label="prediction (training windows, before each step)")
        ax.plot([], [], "g-", label=f"prediction (windows not trained on), MSE {test_mse:.4f}")
        ax.set(xlabel="x", title=f"{name}: sin -> cos, last 10 training windows and {p.test_windows} unseen ones")
        ax.legend(fontsize=8, loc="lower left")
        figure = save_figure(fig, ROOT / "plots" / name / "prediction_vs_target.png")
        results = {"test_mse": round(test_mse, 6), "last10_train_mse": round(last_train_mse, 6),
                   "first_window_mse": round(rows[0]["mse"], 6), "windows": p.windows,
                   "test_windows": p.test_windows, "epochs": 1}
        write_metrics(name, p, data, results, figure, run.info.run_id, seconds, "test_mse")
    print(f"{name}: MSE on {p.test_windows} unseen windows {test_mse:.5f} (last 10 training windows "
          f"{last_train_mse:.5f})")


if __name__ == "__main__":
    run_main(main)
