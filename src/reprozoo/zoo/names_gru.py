"""Seed 002's name -> country classifier: ASCII codes -> Embedding(128, 100) -> GRU over packed
padded sequences -> Linear to the countries.  `python -m reprozoo.zoo.names_gru NAME...` predicts."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from reprozoo.train import batch_indices

ASCII = 128


def encode_names(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Names -> (N, longest) int64 ASCII codes padded with 0, and (N,) lengths."""
    lengths = torch.tensor([len(n) for n in names])
    codes = torch.zeros(len(names), int(lengths.max()), dtype=torch.long)
    for i, name in enumerate(names):
        codes[i, :len(name)] = torch.tensor([ord(c) for c in name])
    return codes, lengths


class NamesGRU(nn.Module):
    """Embedding(128, hidden) -> GRU(hidden, hidden, layers[, bidirectional]) -> Linear(hidden * dirs, classes)."""

    def __init__(self, num_classes: int, hidden_size: int = 100, num_layers: int = 2, bidirectional: bool = False):
        super().__init__()
        self.embed = nn.Embedding(ASCII, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                          batch_first=True)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:  # (N, L), (N,) -> (N, classes)
        # The seed sorts each batch by length before packing; enforce_sorted=False does that sort
        # (and undoes it on the output) inside pack_padded_sequence, with the same result.
        packed = pack_padded_sequence(self.embed(codes), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)  # (layers * dirs, N, hidden): the state after each name's last real letter
        last = torch.cat((h_n[-2], h_n[-1]), 1) if self.gru.bidirectional else h_n[-1]
        return self.fc(last)


@torch.no_grad()
def score_names(model: NamesGRU, codes: torch.Tensor, lengths: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Class scores (N, classes) in eval mode."""
    model.eval()
    return torch.cat([model(codes[i:i + batch_size], lengths[i:i + batch_size])
                      for i in range(0, len(codes), batch_size)])


def train_names_epoch(model: NamesGRU, codes: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor,
                      optimizer: torch.optim.Optimizer, batch_size: int, generator: torch.Generator) -> float:
    """One pass over seeded shuffled batches; returns the mean training loss."""
    model.train()
    total = 0.0
    for idx in batch_indices(len(labels), batch_size, generator, codes.device):
        width = int(lengths[idx].max())  # trim the padding this batch does not need
        optimizer.zero_grad()
        loss = F.cross_entropy(model(codes[idx, :width], lengths[idx]), labels[idx])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(labels)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Fraction of rows whose label is among the k highest scores."""
    return (scores.topk(min(k, scores.shape[1]), 1).indices == labels.unsqueeze(1)).any(1).float().mean().item()


def make_names_model(config: dict) -> NamesGRU:
    """The model a checkpoint's config describes."""
    return NamesGRU(len(config["classes"]), config["hidden_size"], config["num_layers"], config["bidirectional"])


def load_names_model(path: Path) -> tuple[NamesGRU, list[str]]:
    """A trained checkpoint (models/<experiment>/model.pt: config with classes, state_dict)."""
    from reprozoo.data.files import load_tensors

    saved = load_tensors(path, "dvc repro names-gru")
    config = saved["config"]
    model = make_names_model(config)
    model.load_state_dict(saved["state_dict"])
    return model, config["classes"]


def predict_names(model: NamesGRU, classes: list[str], names: list[str], k: int = 3) -> list[list[tuple[str, float]]]:
    """The k most likely countries with probabilities, per name."""
    from reprozoo.data.names import to_ascii
    from reprozoo.errors import ReprozooError

    folded = [to_ascii(n.strip()) for n in names]
    bad = [n for n in folded if not n or not n.isascii()]
    if bad:
        raise ReprozooError(f"name {bad[0]!r}: empty or not ASCII after folding accents; the model reads ASCII codes")
    codes, lengths = encode_names(folded)
    probs = score_names(model, codes, lengths).softmax(1)
    top = probs.topk(min(k, len(classes)), 1)
    return [[(classes[i], p) for i, p in zip(ix.tolist(), pv.tolist())] for ix, pv in zip(top.indices, top.values)]


def main() -> None:
    """CLI: python -m reprozoo.zoo.names_gru [--model models/s002-names-gru/model.pt] NAME..."""
    from reprozoo import ROOT

    args = sys.argv[1:]
    path = ROOT / "models" / "s002-names-gru" / "model.pt"
    if args[:1] == ["--model"]:
        path, args = Path(args[1]), args[2:]
    if not args:
        from reprozoo.errors import ReprozooError

        raise ReprozooError("usage: python -m reprozoo.zoo.names_gru [--model PATH] NAME...")
    model, classes = load_names_model(path)
    for name, top in zip(args, predict_names(model, classes, args)):
        print(f"{name}: " + ", ".join(f"{c} {p:.2f}" for c, p in top))


if __name__ == "__main__":
    from reprozoo.errors import run_main

    run_main(main)
