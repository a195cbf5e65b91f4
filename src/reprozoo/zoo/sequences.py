"""Seed 003's sin -> cos regression RNN, and seed 000's forward hook on the trained MNIST RNN."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def sin_cos_window(step: int, time_step: int) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
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


def run_sin_cos(model: SinCosRNN, optimizer: torch.optim.Optimizer, windows: int, test_windows: int,
                time_step: int) -> list[dict]:
    """Train one step per window for `windows` windows, then predict the next `test_windows` untrained.

    The hidden state flows from window to window, detached so backpropagation stops at the
    window's start (the seed's `h_state = h_state.data`); it keeps flowing into the test windows.
    """
    h = None
    rows = []
    for step in range(windows + test_windows):
        xs, x, y = sin_cos_window(step, time_step)
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


class SaveFeatures:
    """Seed 000's hook: keeps a module's forward output; close() removes the hook."""

    def __init__(self, module: nn.Module):
        self.features: torch.Tensor | None = None
        self.hook = module.register_forward_hook(self.hook_fn)

    def hook_fn(self, module: nn.Module, inputs: tuple, output) -> None:
        out = output[0] if isinstance(output, tuple) else output  # nn.RNN returns (outputs, h_n)
        self.features = out.detach()

    def close(self) -> None:
        self.hook.remove()


@torch.no_grad()
def capture_rnn_outputs(model: nn.Module, rnn: nn.RNNBase, images: torch.Tensor) -> torch.Tensor:
    """Run `model` on images with a hook on `rnn`; return its outputs as (steps, batch, hidden).

    The seed's RNN is sequence-first, so its hook sees (28, batch, 150). Ours is batch_first
    and yields (batch, 28, 150); transposing the first two axes gives the seed's layout, with
    [t, b] the same step of the same image.
    """
    saver = SaveFeatures(rnn)
    try:
        model.eval()
        model(images)
    finally:
        saver.close()
    out = saver.features
    return out.transpose(0, 1).contiguous() if rnn.batch_first else out
