"""download@<dataset>: raw data from the dataset's `source` in params.yaml into data/raw/<dataset>/."""

from __future__ import annotations

import _venv  # noqa: F401  (the project's venv, whichever Python started the stage)
import sys

from reprozoo import ROOT
from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main


def main() -> None:
    from reprozoo.data.sources import download
    from reprozoo.config.params import load_params
    from reprozoo.ledger.timing import spend

    name = sys.argv[1]
    d = getattr(load_params().datasets, name, None)
    if d is None:
        raise ReprozooError(f"dataset {name!r} is not under datasets in params.yaml")
    with spend("work"):
        got = download(name, d, ROOT / "data" / "raw" / name, ROOT / "data" / "downloads")
    print(f"download@{name}: {got}")


if __name__ == "__main__":
    run_main(main)
