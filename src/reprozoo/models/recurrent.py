"""Recurrent image classifiers: an image's rows are the time steps (seeds 000, 001, 003)."""

from __future__ import annotations

import torch
from torch import nn

from reprozoo.models.registry import register_model
from reprozoo.models.tanh_rnn import can_use, tanh_rnn


class RowRecurrentClassifier(nn.Module):
    """Reads an image row by row with an RNN/LSTM/GRU and classifies from the last step's output."""

    def __init__(self, cell: str, row_size: int, hidden_size: int, num_layers: int, num_classes: int,
                 identity_init: bool = False):
        super().__init__()
        self.rnn = getattr(nn, cell.upper())(row_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)
        if identity_init:
            # Seed 000 (after Le et al., IRNN): recurrent weights start as the identity so
            # the hidden state is carried unchanged across the 28 steps at the start.
            for layer in range(num_layers):
                nn.init.eye_(getattr(self.rnn, f"weight_hh_l{layer}"))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        rows = images.permute(0, 2, 1, 3).reshape(n, h, c * w)  # (N, H steps, C*W features)
        out = tanh_rnn(self.rnn, rows) if can_use(self.rnn, rows) else self.rnn(rows)[0]  # (N, H, hidden)
        return self.head(out[:, -1])  # (N, classes)


@register_model
def image_rnn(input_shape: tuple[int, ...], num_classes: int, cell: str = "rnn", hidden_size: int = 150,
              num_layers: int = 1, identity_init: bool = False) -> nn.Module:
    """An image as a sequence of rows through nn.RNN (tanh), nn.LSTM or nn.GRU."""
    if cell not in ("rnn", "lstm", "gru"):
        from reprozoo.config.errors import ReprozooError

        raise ReprozooError(f"model_args.cell: {cell!r} is unknown; allowed: rnn, lstm, gru")
    c, _, w = input_shape
    return RowRecurrentClassifier(cell, c * w, hidden_size, num_layers, num_classes, identity_init)
