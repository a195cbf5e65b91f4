"""The names GRU's command line: a trained model's three likeliest countries for each name.

    python -m reprozoo.names [--model models/s002-names-gru] NAME...
"""

from __future__ import annotations

import sys

from reprozoo import ROOT
from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main
from reprozoo.tasks.names_gru import predict_names
from reprozoo.training import exported


def main() -> None:
    """CLI: python -m reprozoo.names [--model models/s002-names-gru] NAME..."""
    args = sys.argv[1:]
    folder = ROOT / "models" / "s002-names-gru"
    if args[:1] == ["--model"]:
        folder, args = ROOT / args[1], args[2:]
    if not args:
        raise ReprozooError("usage: python -m reprozoo.names [--model FOLDER] NAME...")
    model = exported.load_module(folder, f"names-gru@{folder.name}")
    import yaml

    classes = yaml.safe_load((folder / "MLmodel").read_text())["metadata"]["classes"]
    for name, top in zip(args, predict_names(model, classes, args)):
        print(f"{name}: " + ", ".join(f"{c} {p:.2f}" for c, p in top))


if __name__ == "__main__":
    run_main(main)
