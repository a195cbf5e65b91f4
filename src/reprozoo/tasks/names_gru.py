"""Seed 002's name -> country classifier: ASCII codes -> Embedding(128, 100) -> GRU over packed padded
sequences -> Linear to the countries, SGD, test accuracy per epoch as the seed prints it.

`python -m reprozoo.names NAME...` (reprozoo/names.py) prints a trained model's three likeliest countries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from reprozoo.data.names import encode_names, to_ascii
from reprozoo.config.errors import ReprozooError
from reprozoo.training.figures import confusion_counts, confusion_rows, per_class_accuracy
from reprozoo.config.params import Count, Experiment, Optimizer, Positive
from reprozoo.data.record import split_data
from reprozoo.tasks import Context, Data, Result, Task, register
from reprozoo.training.optim import make_optimizer
from reprozoo.training.loop import batch_indices


class Params(Experiment):
    hidden_size: Count = 100  # also the embedding width, as in the seed
    num_layers: Count = 2
    bidirectional: bool = False
    batch_size: Count = 256
    optimizer: Optimizer = "sgd"
    lr: Positive = 0.1
    epochs: Count = 200

ASCII = 128
WIDTH = 32  # letters: the saved model takes names padded to this width (torch.export fixes the length)


class NamesGRU(nn.Module):
    """Embedding(128, hidden) -> GRU(hidden, hidden, layers[, bidirectional]) -> Linear(hidden * dirs, classes).

    Takes (N, L) ASCII codes padded with 0 (no letter is code 0), so a saved model needs no lengths.
    """

    def __init__(self, num_classes: int, hidden_size: int = 100, num_layers: int = 2, bidirectional: bool = False):
        super().__init__()
        self.embed = nn.Embedding(ASCII, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                          batch_first=True)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:  # (N, L) -> (N, classes)
        lengths = (codes != 0).sum(1).clamp(min=1)
        if not (self.training or self.gru.bidirectional):
            # Scoring: a forward GRU's output at a name's last letter does not depend on the padding after
            # it, so the padded run gives the packed one's state, and (unlike packing) torch.export takes it.
            out, _ = self.gru(self.embed(codes))  # (N, L, hidden) of the last layer
            last = out.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.shape[2]))  # no Python ints:
            return self.fc(last.squeeze(1))  # batch size and length stay dynamic in the exported program
        # The seed sorts each batch by length before packing; enforce_sorted=False does that sort
        # (and undoes it on the output) inside pack_padded_sequence, with the same result.
        packed = pack_padded_sequence(self.embed(codes), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)  # (layers * dirs, N, hidden): the state after each name's last real letter
        last = torch.cat((h_n[-2], h_n[-1]), 1) if self.gru.bidirectional else h_n[-1]
        return self.fc(last)


@torch.no_grad()
def score_names(model: NamesGRU, codes: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Class scores (N, classes) in eval mode."""
    model.eval()
    return torch.cat([model(codes[i:i + batch_size]) for i in range(0, len(codes), batch_size)])


def train_epoch(model: NamesGRU, codes: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor,
                optimizer: torch.optim.Optimizer, batch_size: int, generator: torch.Generator) -> float:
    """One pass over seeded shuffled batches; returns the mean training loss."""
    model.train()
    total = 0.0
    for idx in batch_indices(len(labels), batch_size, generator, codes.device):
        width = int(lengths[idx].max())  # trim the padding this batch does not need
        optimizer.zero_grad()
        loss = F.cross_entropy(model(codes[idx, :width]), labels[idx])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(labels)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Fraction of rows whose label is among the k highest scores."""
    return (scores.topk(min(k, scores.shape[1]), 1).indices == labels.unsqueeze(1)).any(1).float().mean().item()


def predict_names(model: nn.Module, classes: list[str], names: list[str], k: int = 3) -> list[list[tuple[str, float]]]:
    """The k most likely countries with probabilities, per name."""
    folded = [to_ascii(n.strip()) for n in names]
    bad = [n for n in folded if not n or not n.isascii()]
    if bad:
        raise ReprozooError(f"name {bad[0]!r}: empty or not ASCII after folding accents; the model reads ASCII codes")
    codes = encode_names(folded)[0]
    if codes.shape[1] > WIDTH:
        raise ReprozooError(f"a name of {codes.shape[1]} letters; the saved model reads at most {WIDTH}")
    with torch.no_grad():  # `model` may be the saved torch.export program, which has no eval()
        probs = model(F.pad(codes, (0, WIDTH - codes.shape[1]))).softmax(1)
    top = probs.topk(min(k, len(classes)), 1)
    return [[(classes[i], p) for i, p in zip(ix.tolist(), pv.tolist())] for ix, pv in zip(top.indices, top.values)]


def figure(name: str, history: list[dict], counts, classes: list[str], accuracy: float, top3: float):
    """Test accuracy per epoch beside the row-normalised confusion matrix."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [1, 1.3]})
    ax1.plot([r["epoch"] for r in history], [r["test_accuracy"] for r in history])
    ax1.set(xlabel="epoch", ylabel="test accuracy", title=f"{name}: test accuracy per epoch "
            f"(final {accuracy:.3f}, top-3 {top3:.3f})")
    ax1.grid(True)
    ax2.imshow(counts / counts.sum(1, keepdims=True).clip(min=1), cmap="Blues", vmin=0, vmax=1)
    ax2.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax2.set_yticks(range(len(classes)), classes, fontsize=7)
    ax2.set(xlabel="predicted", ylabel="actual", title="confusion (row-normalised)")
    fig.tight_layout()
    return fig


@register
class NamesGruTask(Task):
    kind = "names_gru"
    data_figures = ("chance_accuracy",)  # from the test labels alone
    params_model = Params
    tiny = True

    def load(self, ctx: Context) -> Data:
        return split_data("names")

    def train(self, ctx: Context, data: Data) -> None:
        p, split = ctx.params, data.parts["split"]
        self.model = NamesGRU(len(split.manifest["classes"]), p.hidden_size, p.num_layers, p.bidirectional)
        generator = torch.Generator().manual_seed(p.seed)
        optimizer = make_optimizer(p.optimizer, self.model.parameters(), p.lr, {})
        train, test = split.train, split.test
        for epoch in range(1, p.epochs + 1):
            loss = train_epoch(self.model, train["codes"], train["lengths"], train["labels"], optimizer,
                               p.batch_size, generator)
            scores = score_names(self.model, test["codes"])
            # Test accuracy per epoch, as the seed prints it (the seed has no validation split).
            ctx.log_epoch({"epoch": epoch, "train_loss": loss,
                           "test_accuracy": (scores.argmax(1) == test["labels"]).float().mean().item()})
        if p.bidirectional:  # packed sequences do not export (torch.export); the padded form is forward-only
            return
        example = F.pad(test["codes"][:2], (0, WIDTH - test["codes"].shape[1]))
        ctx.save_model(self.model, example, {"reprozoo_experiment": ctx.name, "classes": split.manifest["classes"],
                                             "input": f"(N, {WIDTH}) int64 ASCII codes of the names, padded with 0",
                                             "output": "(N, classes) logits", **data.record()})

    def evaluate(self, ctx: Context, data: Data) -> Result:
        split = data.parts["split"]
        classes, test = split.manifest["classes"], split.test
        scores = score_names(self.model, test["codes"])
        predicted = scores.argmax(1)
        accuracy, top3 = (predicted == test["labels"]).float().mean().item(), topk_accuracy(scores, test["labels"], 3)
        counts = confusion_counts(test["labels"], predicted, len(classes))
        per_class = per_class_accuracy(counts, classes)
        return Result(
            metrics={"test_accuracy": accuracy, "test_top3_accuracy": top3, "chance_accuracy": 1 / len(classes),
                     "train_samples": len(split.train["labels"]), "test_samples": len(test["labels"])},
            main_metric="test_accuracy",
            info={"classes": classes, "per_class_accuracy": per_class, "confusion": counts.tolist(),
                  "test_accuracy_by_epoch": [round(r["test_accuracy"], 4) for r in ctx.history]},
            figures={"accuracy_confusion": figure(ctx.name, ctx.history, counts, classes, accuracy, top3)},
            tables={"confusion": confusion_rows(test["labels"], predicted, classes)},
        )
