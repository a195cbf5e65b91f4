"""Seed 002's "hello" -> "ohlol": one of its three recurrent models learns one five-letter sequence.

cell: RNNCell(4, 4) stepped by hand over one-hot letters; rnn: nn.RNN(4, 4) over the sequence; both
read their hidden state as the 4 letter scores. embedding: Embedding(4, 10) + RNN + Linear(hidden, 4).
The figure is how many of the five letters the trained model gets right (the seed prints "ohlol").
"""

from __future__ import annotations

from typing import Literal, TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from reprozoo.data.files import sha256_tensors
from reprozoo.training.optim import make_optimizer
from reprozoo.config.params import Count, Experiment, Optimizer, Positive
from reprozoo.tasks import Context, Data, Result, Task, register


if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn
    from matplotlib.figure import Figure


class Params(Experiment):
    model: Literal["cell", "rnn", "embedding"]
    hidden_size: Count = 4
    num_layers: Count = 1
    embedding_dim: Count = 10  # model: embedding only
    optimizer: Optimizer = "sgd"
    lr: Positive = 0.1
    epochs: Count = 15


VOCAB = ["e", "h", "l", "o"]  # the seed's index order
SOURCE, TARGET = "hello", "ohlol"


def encode(text: str) -> torch.Tensor:
    """Letters -> vocabulary indices (seq,)."""
    return torch.tensor([VOCAB.index(c) for c in text])


def decode(indices: torch.Tensor) -> str:
    """Vocabulary indices -> letters."""
    return "".join(VOCAB[i] for i in indices.tolist())


class CellModel(nn.Module):
    """RNNCell(4, 4) stepped by hand over one-hot letters; the hidden state is the 4 class scores."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.cell = nn.RNNCell(len(VOCAB), hidden_size)

    def forward(self, letters: torch.Tensor) -> torch.Tensor:  # (seq,) -> (seq, hidden)
        x = F.one_hot(letters, len(VOCAB)).float().unsqueeze(1)  # (seq, batch 1, 4)
        h = torch.zeros(1, self.cell.hidden_size)
        steps = []
        for x_t in x:
            h = self.cell(x_t, h)
            steps.append(h)
        return torch.cat(steps)


class SequenceModel(nn.Module):
    """nn.RNN(4, 4) over the one-hot sequence; its outputs are the class scores."""

    def __init__(self, hidden_size: int, num_layers: int):
        super().__init__()
        self.rnn = nn.RNN(len(VOCAB), hidden_size, num_layers=num_layers)

    def forward(self, letters: torch.Tensor) -> torch.Tensor:  # (seq,) -> (seq, hidden)
        x = F.one_hot(letters, len(VOCAB)).float().unsqueeze(1)  # (seq, batch 1, 4), sequence first as the seed
        out, _ = self.rnn(x)  # h0 defaults to zeros, as the seed sets it
        return out.squeeze(1)


class EmbeddingModel(nn.Module):
    """Embedding(4, 10) -> RNN(10, hidden, layers) -> Linear(hidden, 4)."""

    def __init__(self, embedding_dim: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), embedding_dim)
        self.rnn = nn.RNN(embedding_dim, hidden_size, num_layers=num_layers)
        self.linear = nn.Linear(hidden_size, len(VOCAB))

    def forward(self, letters: torch.Tensor) -> torch.Tensor:  # (seq,) -> (seq, 4)
        out, _ = self.rnn(self.embed(letters).unsqueeze(1))  # (seq, 1, hidden)
        return self.linear(out.squeeze(1))


def build_char_model(kind: str, hidden_size: int, num_layers: int, embedding_dim: int) -> nn.Module:
    """One of the seed's three char models. cell and rnn read their hidden state as the 4 scores."""
    if kind == "cell":
        return CellModel(hidden_size)
    if kind == "rnn":
        return SequenceModel(hidden_size, num_layers)
    return EmbeddingModel(embedding_dim, hidden_size, num_layers)


def fit_char(model: nn.Module, optimizer: str, lr: float, epochs: int) -> list[dict]:
    """Train on hello -> ohlol; one row per epoch with the loss and the decoded prediction."""
    x, y = encode(SOURCE), encode(TARGET)
    opt = make_optimizer(optimizer, model.parameters(), lr, {})
    history = []
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        scores = model(x)
        # The RNNCell seed sums the five per-step losses; the others take the mean over steps.
        loss = F.cross_entropy(scores, y, reduction="sum" if isinstance(model, CellModel) else "mean")
        loss.backward()
        opt.step()
        history.append({"epoch": epoch, "loss": loss.item(), "decoded": decode(scores.argmax(1))})
    return history


@torch.no_grad()
def predict_char(model: nn.Module) -> str:
    """The trained model's reading of "hello"."""
    return decode(model(encode(SOURCE)).argmax(1))


def marked_epochs(epochs: int) -> list[int]:
    """The epochs whose decoded string the figure and info show: first, a quarter, half, last."""
    return sorted({1, epochs // 4, epochs // 2, epochs} - {0})


def loss_figure(name: str, model_kind: str, history: list[dict], decoded: str, right: int) -> Figure:
    """Cross-entropy per epoch, annotated with the decoded string at the marked epochs."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["epoch"] for r in history], [r["loss"] for r in history])
    for e in marked_epochs(len(history)):
        r = history[e - 1]
        ax.annotate(r["decoded"], (e, r["loss"]), textcoords="offset points", xytext=(0, 8), ha="center")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title=f"{name} ({model_kind}): hello -> {decoded!r}, "
           f"{right}/5 right")
    return fig


@register
class CharRnnTask(Task):
    """Seed 002's hello -> ohlol with one of its three models."""

    kind = "char_rnn"
    params_model = Params
    tiny = True

    def load(self, ctx: Context) -> Data:
        tensors = {"x": encode(SOURCE), "y": encode(TARGET)}
        return Data("hello-ohlol", "seed 002 (in the code)", sha256_tensors(tensors))

    def train(self, ctx: Context, data: Data) -> None:
        p = ctx.params
        self.model = build_char_model(p.model, p.hidden_size, p.num_layers, p.embedding_dim)
        self.history = fit_char(self.model, p.optimizer, p.lr, p.epochs)

    def evaluate(self, ctx: Context, data: Data) -> Result:
        p, history = ctx.params, self.history
        # Up to 1000 epochs of a few microseconds each: one batch for the curve, not a call per epoch.
        ctx.log_series("loss", [r["loss"] for r in history])
        decoded = predict_char(self.model)
        right = sum(a == b for a, b in zip(decoded, TARGET))
        first = next((r["epoch"] for r in history if r["decoded"] == TARGET), None)  # None: never all right
        marks = marked_epochs(len(history))
        return Result(
            metrics={"chars_right": right, "final_loss": history[-1]["loss"], "epochs": p.epochs},
            main_metric="chars_right",
            info={"decoded": decoded, "target": TARGET, "first_epoch_all_right": first,
                  "decoded_by_epoch": {r["epoch"]: r["decoded"] for r in history if r["epoch"] in marks}},
            figures={"loss": loss_figure(ctx.name, p.model, history, decoded, right)},
        )
