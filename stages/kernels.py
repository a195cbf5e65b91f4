"""kernels: this machine's kernel fingerprint (reprozoo.report.kernels), to metrics/kernels.json for git and to
results/kernels.json for the cache (dvc.yaml says why both)."""

from __future__ import annotations

import _venv  # noqa: F401  (the project's venv, whichever Python started the stage)
from reprozoo import ROOT
from reprozoo.data.files import write_json
from reprozoo.ledger.stage import run_main
from reprozoo.report.kernels import fingerprint
from reprozoo.config.params import load_params
from reprozoo.ledger.timing import spend


def main() -> None:
    with spend("work"):
        mine = fingerprint(load_params().runtime.threads)
        for folder in ("results", "metrics"):
            write_json(ROOT / folder / "kernels.json", mine)
    print(f"kernels: {len(mine['probes'])} probes of {mine['machine']['cpu']} -> metrics/kernels.json")


if __name__ == "__main__":
    run_main(main)
