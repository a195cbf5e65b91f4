"""backbone@<name>: pretrain a stand-in backbone (params.yaml `backbones`) into models/backbones/<name>.pt."""

from __future__ import annotations

import _venv  # noqa: F401  (the project's venv, whichever Python started the stage)
import sys

from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main


def main() -> None:
    from reprozoo.training.backbones import pretrain
    from reprozoo.config.params import load_params
    from reprozoo.training.runtime import configure
    from reprozoo.ledger.timing import spend

    name = sys.argv[1]
    params = load_params()
    if name not in params.backbones:
        raise ReprozooError(f"backbone {name!r} is not under backbones in params.yaml; known: "
                            f"{', '.join(params.backbones)}")
    configure("cpu", params.runtime.threads, params.runtime.deterministic)
    with spend("work"):
        saved = pretrain(name, params.backbones[name])
    print(f"backbone@{name}: {saved['model']} on {saved['dataset']} classes {saved['classes']}, "
          f"train accuracy {saved['train_accuracy']:.4f}")


if __name__ == "__main__":
    run_main(main)
