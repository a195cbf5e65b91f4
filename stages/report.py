"""report: one row per CATALOGUE id, the seed's figure beside ours, in metrics/report.md and report.json."""

from __future__ import annotations

from reprozoo import ROOT
from reprozoo.errors import run_main
from reprozoo.params import load_params
from reprozoo.report import build_report, render_markdown
from reprozoo.data.files import atomic_write, write_json


def main() -> None:
    params = load_params()
    names = [*params.experiments, *(params.zoo.experiments() if params.zoo else {})]
    report = build_report(names, ROOT / "metrics")
    write_json(ROOT / "metrics" / "report.json", report)
    atomic_write(ROOT / "metrics" / "report.md", lambda p: p.write_text(render_markdown(report)))
    print(f"report: {len(report['rows'])} rows -> metrics/report.md")


if __name__ == "__main__":
    run_main(main)
