"""report: one row per CATALOGUE id, what the seed prints beside ours, in metrics/report.md and report.json;
and every image classifier's training curves in metrics/curves.csv, for dvc.yaml's charts."""

from __future__ import annotations

import _venv  # noqa: F401  (the project's venv, whichever Python started the stage)
from reprozoo import ROOT
from reprozoo.data.files import atomic_write, write_json
from reprozoo.ledger.stage import run_main
from reprozoo.config.params import load_params
from reprozoo.report.curves import training_curves
from reprozoo.report.report import build_report, render_markdown
from reprozoo.harness.outputs import write_table
from reprozoo.ledger.timing import spend


def main() -> None:
    with spend("work"):
        names = load_params().names()  # the experiments' names and kinds: the report reads their outputs only
        report = build_report(list(names))
        write_json(ROOT / "metrics" / "report.json", report)
        atomic_write(ROOT / "metrics" / "report.md", lambda p: p.write_text(render_markdown(report)))
        classifiers = [name for name, kind in names.items() if kind == "image_classifier"]
        write_table(ROOT / "metrics" / "curves.csv", training_curves(classifiers, ROOT))
    print(f"report: {len(report['rows'])} rows -> metrics/report.md")


if __name__ == "__main__":
    run_main(main)
