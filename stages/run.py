"""run <experiment> [train|evaluate|all|spread]: one phase of any experiment in params.yaml (reprozoo.harness.phases).

Image classifiers train (train@<name>) and evaluate (evaluate@<name>) in two stages; every other
kind does both in one (`all`, the default). Under `torchrun --nproc_per_node=N` a classifier
trains data-parallel and only rank 0 logs and writes.
"""

from __future__ import annotations

import _venv  # noqa: F401  (the project's venv, whichever Python started the stage)
import sys

from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main


def main() -> None:
    from reprozoo.harness.phases import PHASES, run_phase

    args = sys.argv[1:]
    if not (len(args) == 1 or (len(args) == 2 and args[1] in PHASES)):
        raise ReprozooError("usage: python stages/run.py EXPERIMENT [train|evaluate|all|spread]")
    run_phase(args[0], args[1] if len(args) > 1 else "all")


if __name__ == "__main__":
    run_main(main)
