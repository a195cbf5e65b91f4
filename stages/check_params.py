"""check-params: params.yaml read and checked whole, each experiment by its kind's model (tasks/<kind>.py), with
every model name and argument, before any stage runs.

DVC deletes a stage's outputs before it runs the command, and some (a history.csv in git) have no cached
copy to bring back; so a typo must stop `dvc repro` here, upstream of every stage. The output is the
same while params are valid, so a change that passes reruns only the stages that read it.
"""

from __future__ import annotations

import _venv  # noqa: F401  (the project's venv, whichever Python started the stage)
from reprozoo import ROOT
from reprozoo.data.files import write_json
from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main
from reprozoo.models import check_model
from reprozoo.harness.params import load_all
from reprozoo.ledger.timing import spend

OUT = ROOT / "results" / "params-ok.json"


def main() -> None:
    with spend("work"):
        params = load_all()
        models = {f"experiments.image_classifier.{n}": (p.model, p.model_args)
                  for n, p in params.experiments.get("image_classifier", {}).items()}
        models |= {f"backbones.{n}": (b.model, {}) for n, b in params.backbones.items()}
        for key, (model, model_args) in models.items():
            try:
                check_model(model, model_args)
            except ReprozooError as err:
                raise ReprozooError(f"params.yaml: {key}: {err}") from None
        write_json(OUT, {"params.yaml": "valid"})
    print(f"check-params: params.yaml is valid ({len(params.all())} experiments)")


if __name__ == "__main__":
    run_main(main)
