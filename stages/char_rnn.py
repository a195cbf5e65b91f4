"""char-rnn@<name>: seed 002's "hello" -> "ohlol" with one of its three recurrent models."""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.errors import run_main
from reprozoo.zoo.char_rnn import SOURCE, TARGET, build_char_model, encode, fit_char, predict_char
from reprozoo.zoo.common import Timer, data_record, log_series, mlflow_run, save_figure, start, write_metrics, \
    zoo_params


def main() -> None:
    import matplotlib.pyplot as plt
    import mlflow

    name = sys.argv[1]
    params, p = zoo_params("char_rnn", name)
    start(params, p.seed)
    data = data_record("hello-ohlol", "seed 002 (in the code)", {"x": encode(SOURCE), "y": encode(TARGET)})
    model = build_char_model(p.model, p.hidden_size, p.num_layers, p.embedding_dim)
    with mlflow_run(name, p.reproduces, data, f"char-rnn@{name}", p) as run:
        timer = Timer()
        history = fit_char(model, p.optimizer, p.lr, p.epochs)
        seconds = timer.seconds()
        log_series("loss", [r["loss"] for r in history])
        decoded = predict_char(model)
        right = sum(a == b for a, b in zip(decoded, TARGET))
        first = next((r["epoch"] for r in history if r["decoded"] == TARGET), None)
        mlflow.log_metrics({"chars_right": right, "final_loss": history[-1]["loss"]})
        mlflow.set_tag("decoded", decoded)
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([r["epoch"] for r in history], [r["loss"] for r in history])
        marks = sorted({1, len(history) // 4, len(history) // 2, len(history)} - {0})
        for e in marks:
            r = history[e - 1]
            ax.annotate(r["decoded"], (e, r["loss"]), textcoords="offset points", xytext=(0, 8), ha="center")
        ax.set(xlabel="epoch", ylabel="cross-entropy", title=f"{name} ({p.model}): hello -> {decoded!r}, "
               f"{right}/5 right")
        figure = save_figure(fig, ROOT / "plots" / name / "loss.png")
        results = {"decoded": decoded, "target": TARGET, "chars_right": right, "first_epoch_all_right": first,
                   "final_loss": history[-1]["loss"], "model": p.model, "epochs": p.epochs,
                   "decoded_by_epoch": {r["epoch"]: r["decoded"] for r in history if r["epoch"] in marks}}
        write_metrics(name, p, data, results, figure, run.info.run_id, seconds, "chars_right")
    print(f"{name}: hello -> {decoded} ({right}/5 right; all right from epoch {first})")


if __name__ == "__main__":
    run_main(main)
