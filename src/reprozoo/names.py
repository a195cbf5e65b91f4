"""The names GRU's command line: a trained model's three likeliest countries for each name.

    python -m reprozoo.names [--model models/NAME] NAME...

Without --model, the model of params.yaml's names_gru experiment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reprozoo import ROOT
from reprozoo.config.errors import ReprozooError
from reprozoo.config.params import load_params
from reprozoo.ledger.stage import run_main
from reprozoo.tasks.names_gru import NamesGruTask, predict_names
from reprozoo.training import exported


def default_model() -> Path:
    """models/<name> of params.yaml's names_gru experiment, when it has one."""
    names = [name for name, kind in load_params().names().items() if kind == NamesGruTask.kind]
    if len(names) != 1:
        raise ReprozooError(f"params.yaml has {len(names)} names_gru experiments ({', '.join(names)}); name the "
                            "model: --model models/NAME")
    return ROOT / "models" / names[0]


def main() -> None:
    """CLI: python -m reprozoo.names [--model models/NAME] NAME..."""
    args = sys.argv[1:]
    folder = None
    if args[:1] == ["--model"]:
        folder, args = ROOT / args[1], args[2:]
    if not args:
        raise ReprozooError("usage: python -m reprozoo.names [--model FOLDER] NAME...")
    folder = folder or default_model()
    model = exported.load_module(folder, f"names-gru@{folder.name}")
    import yaml

    classes = yaml.safe_load((folder / "MLmodel").read_text())["metadata"]["classes"]
    for name, top in zip(args, predict_names(model, classes, args)):
        print(f"{name}: " + ", ".join(f"{c} {p:.2f}" for c, p in top))


if __name__ == "__main__":
    run_main(main)
