"""Seed 003's sin -> cos regression: nn.RNN(1, 32) reads sin and predicts cos on every step.

One optimizer step per window of pi; the hidden state flows from window to window, detached, so
backpropagation stops at the window's start (the seed's `h_state = h_state.data`). The windows after
the training ones are predicted without training: their MSE is the figure.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.data.files import sha256_tensors
from reprozoo.config.params import Count, Experiment, Positive
from reprozoo.tasks import Context, Data, Result, Task, register


class Params(Experiment):
    hidden_size: Count = 32
    time_step: Count = 10  # samples per window of pi
    windows: Count = 100  # training windows, one optimizer step each
    test_windows: Count = 20  # the windows after them, never trained on
    lr: Positive = 0.02


def window(step: int, time_step: int) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """Window `step` covers [step*pi, (step+1)*pi): its x positions, sin as (1, T, 1) input, cos as target."""
    xs = np.linspace(step * math.pi, (step + 1) * math.pi, time_step, dtype=np.float32, endpoint=False)
    return xs, torch.from_numpy(np.sin(xs)).view(1, -1, 1), torch.from_numpy(np.cos(xs)).view(1, -1, 1)


class SinCosRNN(nn.Module):
    """nn.RNN(1, hidden, batch_first) + Linear(hidden, 1) on every step."""

    def __init__(self, hidden_size: int = 32):
        super().__init__()
        self.rnn = nn.RNN(1, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        r, h = self.rnn(x, h)  # (1, T, hidden), (1, 1, hidden)
        return self.out(r), h  # nn.Linear maps every step at once, as the seed's comment suggests


def run_windows(model: SinCosRNN, optimizer: torch.optim.Optimizer, windows: int, test_windows: int,
                time_step: int) -> list[dict]:
    """Train one step per window for `windows` windows, then predict the next `test_windows` untrained."""
    h = None
    rows = []
    for step in range(windows + test_windows):
        xs, x, y = window(step, time_step)
        training = step < windows
        with torch.set_grad_enabled(training):
            model.train(training)
            pred, h = model(x, h)
            h = h.detach()
            loss = F.mse_loss(pred, y)
        if training:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        rows.append({"window": step, "train": training, "mse": loss.item(), "x": xs.tolist(),
                     "prediction": pred.detach().flatten().tolist(), "target": y.flatten().tolist()})
    return rows


def figure(rows: list[dict], name: str, test_windows: int, test_mse: float):
    """The last 10 training windows and the unseen ones: prediction against cos."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4.5))
    for r in rows[-(test_windows + 10):]:
        ax.plot(r["x"], r["target"], "r-", lw=1)
        ax.plot(r["x"], r["prediction"], "b-" if r["train"] else "g-", lw=1)
    ax.axvline(rows[-test_windows]["x"][0], color="k", linestyle=":")
    ax.plot([], [], "r-", label="target cos")
    ax.plot([], [], "b-", label="prediction (training windows, before each step)")
    ax.plot([], [], "g-", label=f"prediction (windows not trained on), MSE {test_mse:.4f}")
    ax.set(xlabel="x", title=f"{name}: sin -> cos, last 10 training windows and {test_windows} unseen ones")
    ax.legend(fontsize=8, loc="lower left")
    return fig


@register
class SinCosTask(Task):
    kind = "sin_cos"
    params_model = Params
    tiny = True

    def load(self, ctx: Context) -> Data:
        p = ctx.params
        windows = [window(s, p.time_step) for s in range(p.windows + p.test_windows)]
        tensors = {"x": torch.cat([w[1] for w in windows]), "y": torch.cat([w[2] for w in windows])}
        return Data("sin-cos", "generated (numpy sin/cos, as the seed)", sha256_tensors(tensors))

    def train(self, ctx: Context, data: Data) -> None:
        p = ctx.params
        model = SinCosRNN(p.hidden_size)
        optimizer = torch.optim.Adam(model.parameters(), lr=p.lr)
        self.rows = run_windows(model, optimizer, p.windows, p.test_windows, p.time_step)

    def evaluate(self, ctx: Context, data: Data) -> Result:
        p, rows = ctx.params, self.rows
        ctx.log_series("window_mse", [r["mse"] for r in rows], start=0)
        train, test = [r for r in rows if r["train"]], [r for r in rows if not r["train"]]
        test_mse = sum(r["mse"] for r in test) / len(test)
        last_train_mse = sum(r["mse"] for r in train[-10:]) / min(10, len(train))
        return Result(
            metrics={"test_mse": test_mse, "last10_train_mse": last_train_mse, "first_window_mse": rows[0]["mse"],
                     "windows": p.windows, "test_windows": p.test_windows},
            main_metric="test_mse",
            figures={"prediction_vs_target": figure(rows, ctx.name, p.test_windows, test_mse)},
        )
