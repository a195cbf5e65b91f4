"""Every image classifier's training history in one long table, metrics/curves.csv, for dvc.yaml's `loss`
and `accuracy` charts.

DVC's top-level plots name each file by hand and cannot glob. One derived file whose `experiment` column
.dvc/plots/by-experiment.json draws as one line each lets an experiment added to params.yaml appear on the
charts with nothing else written.
"""

from __future__ import annotations

import csv
from pathlib import Path

from reprozoo.config.errors import ReprozooError

COLUMNS = ["experiment", "epoch", "train_loss", "train_accuracy"]


def training_curves(names: list[str], root: Path) -> list[tuple]:
    """COLUMNS' rows (header first) from plots/<name>/history.csv of each name, in the order given."""
    rows: list[tuple] = [tuple(COLUMNS)]
    for name in names:
        path = root / "plots" / name / "history.csv"
        if not path.is_file():
            raise ReprozooError(f"{path.relative_to(root)} is missing: run `dvc repro train@{name}`")
        with path.open(newline="") as f:
            rows += [(name, *(r[c] for c in COLUMNS[1:])) for r in csv.DictReader(f)]
    return rows
