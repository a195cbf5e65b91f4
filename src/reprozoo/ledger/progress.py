"""Training progress: tqdm bars on a terminal, one concise line per epoch otherwise (CI logs stay short)."""

from __future__ import annotations

import sys
from typing import Iterable, Sequence, TextIO, TypeVar

T = TypeVar("T")


def epoch_line(name: str, row: dict, epochs: int) -> str:
    """One epoch as one line: losses, accuracies and seconds."""
    figures = " ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in row.items()
                       if k.endswith(("loss", "accuracy")) and isinstance(v, float))
    return f"[{name}] epoch {row['epoch']}/{epochs} {figures}" + (f" | {row['seconds']:.1f}s" if "seconds" in row else "")


class Progress:
    """Shows a run's progress; `batches` wraps an epoch's batches, `epoch_done` reports a finished epoch.

    interactive=None decides by whether `stream` (stderr) is a terminal, as under `dvc repro` in a shell.
    """

    def __init__(self, name: str, epochs: int, interactive: bool | None = None, stream: TextIO | None = None,
                 lines: TextIO | None = None):
        self.name, self.epochs = name, epochs
        self.stream = stream or sys.stderr
        self.lines = lines or sys.stdout  # where the one-line-per-epoch log goes when not interactive
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._epoch_bar = None  # drawn at the first epoch: a kind that reports no epochs shows no bar

    def batches(self, batches: Sequence[T]) -> Iterable[T]:
        """The epoch's batches, behind a transient bar when interactive."""
        if not self.interactive:
            return batches
        from tqdm import tqdm

        return tqdm(batches, desc="batches", unit="batch", file=self.stream, position=1, leave=False,
                    dynamic_ncols=True)

    def epoch_done(self, row: dict) -> None:
        """Advance the epoch bar with the epoch's figures, or print its one line."""
        if self.interactive:
            if self._epoch_bar is None:
                from tqdm import tqdm

                self._epoch_bar = tqdm(total=self.epochs, desc=self.name, unit="epoch", file=self.stream,
                                       position=0, dynamic_ncols=True)
            self._epoch_bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k in ("train_loss", "val_loss",
                                         "val_accuracy")}, refresh=False)
            self._epoch_bar.update(row["epoch"] - self._epoch_bar.n)  # rows may come every few epochs
            if row["epoch"] >= self.epochs:
                self.close()
        else:
            print(epoch_line(self.name, row, self.epochs), file=self.lines, flush=True)

    def close(self) -> None:
        """Close the bars (idempotent)."""
        if self._epoch_bar is not None:
            self._epoch_bar.close()
            self._epoch_bar = None

