"""The reproduction report: every CATALOGUE id, the seed's figure beside ours.

The metrics contract, for every experiment's metrics/<experiment>.json (classifier or not):
  experiment      the params.yaml key
  reproduces      a CATALOGUE id
  source          where the data came from (the data split's or generator's own name)
  seed_reported   the seed's figure as a number, or null (catalogue.py)
  main_metric     the name of the key holding OUR figure to set beside the seed's, e.g. "test_accuracy"
                  (classifiers), "prediction_at_4", "test_mse"; that key holds a number or a short string
Optional (shown when present): data ("full" | "embedded" | "stand-in", else derived from source as below),
epochs, train_seconds, device, mlflow_experiment_id and mlflow_run_id (together they make the UI link).
Run `python -m reprozoo.report --readme` to copy metrics/report.md into README.md between the markers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from reprozoo import ROOT
from reprozoo.catalogue import CATALOGUE
from reprozoo.errors import ReprozooError, run_main

# Sources whose numbers can stand beside the seed's full-data figure.
FULL_SOURCES = ("torchvision", "path", "system")
DATA_KINDS = ("full", "embedded", "stand-in")
REQUIRED = ("experiment", "reproduces", "source", "seed_reported", "main_metric")
UI_URL = "http://127.0.0.1:5000"  # where `make ui` serves the store the runs were logged to
README_START, README_END = "<!-- report:start -->", "<!-- report:end -->"


def load_metrics(experiments: list[str], metrics_dir: Path) -> dict[str, dict]:
    """Every experiment's metrics file, checked against the contract above."""
    metrics = {}
    for name in experiments:
        path = metrics_dir / f"{name}.json"
        if not path.exists():
            raise ReprozooError(f"{path}: missing; create it with: dvc repro (the stage writing metrics/{name}.json)")
        m = json.loads(path.read_text())
        missing = [k for k in REQUIRED if k not in m]
        if "main_metric" in m and m["main_metric"] not in m:
            missing.append(m["main_metric"])
        if missing:
            raise ReprozooError(f"{path}: missing key(s) {', '.join(map(str, missing))}; "
                                f"a metrics file needs {', '.join(REQUIRED)} and the key main_metric names")
        if m["reproduces"] not in CATALOGUE:
            raise ReprozooError(f"{path}: reproduces {m['reproduces']!r} is not a CATALOGUE id")
        if m.get("data", "full") not in DATA_KINDS:
            raise ReprozooError(f"{path}: data {m['data']!r} is not one of {', '.join(DATA_KINDS)}")
        metrics[name] = m
    return metrics


def data_kind(m: dict) -> str:
    """full / embedded / stand-in: the file's own `data`, else derived from its source."""
    if "data" in m:
        return m["data"]
    return "full" if m["source"] in FULL_SOURCES else "embedded" if m["source"] == "embedded" else "stand-in"


def comparability(kind: str, seed_reported: float | None) -> str:
    """Whether our figure can stand beside the seed's, and if not why."""
    if seed_reported is None:
        return "no: the seed gives no number"
    # A figure on MNIST-5k is the same task on less data: comparable in kind, not in size.
    return {"full": "yes", "embedded": "partly: same task, a subset of the data"}.get(kind, "no: stand-in data")


def mlflow_link(m: dict) -> str | None:
    """The run's page in `make ui`, when the metrics name both its experiment and run ids."""
    if m.get("mlflow_experiment_id") and m.get("mlflow_run_id"):
        return f"{UI_URL}/#/experiments/{m['mlflow_experiment_id']}/runs/{m['mlflow_run_id']}"
    return None


def build_report(experiments: list[str], metrics_dir: Path) -> dict:
    """Rows for every catalogue id: its experiments' figures, or 'not yet reproduced'."""
    metrics = load_metrics(experiments, metrics_dir)
    rows = []
    for cid, entry in CATALOGUE.items():
        mine = [m for m in metrics.values() if m["reproduces"] == cid]
        if not mine:
            rows.append({"id": cid, "seed_reported": entry.reported_text, "seed_value": entry.reported,
                         "experiment": None})
        for m in mine:
            ours = m[m["main_metric"]]
            kind = data_kind(m)
            numeric = isinstance(ours, (int, float)) and entry.reported is not None
            rows.append({
                "id": cid, "seed_reported": entry.reported_text, "seed_value": entry.reported,
                "experiment": m["experiment"], "metric": m["main_metric"], "ours": ours,
                "difference": round(ours - entry.reported, 6) if numeric else None,
                "source": m["source"], "data": kind, "comparable": comparability(kind, entry.reported),
                "epochs": m.get("epochs"), "train_seconds": m.get("train_seconds"), "device": m.get("device"),
                "mlflow_run_id": m.get("mlflow_run_id"), "mlflow_url": mlflow_link(m),
            })
    done = {r["id"] for r in rows if r["experiment"]}
    return {"catalogue_ids": len(CATALOGUE), "reproduced_ids": len(done), "experiments": len(metrics), "rows": rows,
            "permutation": permutation_summary(list(metrics.values()))}


PERMUTED = "s004-fc-vs-cnn-permuted"


def permutation_summary(metrics: list[dict]) -> dict | None:
    """Seed 004's point in numbers: the CNN's lead over the FC net on images, and what a pixel shuffle costs each.

    None unless all four runs (fc and cnn, normal and permuted) are there.
    """
    acc = {("fc" if m["model"] == "mlp" else "cnn", m["permute_pixels"]): m["test_accuracy"]
           for m in metrics if m["reproduces"] == PERMUTED}
    if len(acc) != 4:
        return None
    return {
        "accuracy": {f"{net}_{'permuted' if perm else 'normal'}": a for (net, perm), a in sorted(acc.items())},
        "cnn_advantage_normal": round(acc[("cnn", False)] - acc[("fc", False)], 6),
        "cnn_advantage_permuted": round(acc[("cnn", True)] - acc[("fc", True)], 6),
        "cnn_loss_under_permutation": round(acc[("cnn", False)] - acc[("cnn", True)], 6),
        "fc_loss_under_permutation": round(acc[("fc", False)] - acc[("fc", True)], 6),
    }


def render_permutation(summary: dict) -> list[str]:
    """The permuted-pixel comparison as a short Markdown section."""
    a = summary["accuracy"]
    return ["", f"## {PERMUTED}: CNN vs FC, normal and permuted pixels", "",
            "| net | normal | permuted | loss under permutation |", "|---|---|---|---|",
            f"| FC2Layer 784-8-8-10 | {a['fc_normal']:.4f} | {a['fc_permuted']:.4f} | "
            f"{summary['fc_loss_under_permutation']:+.4f} |",
            f"| CNN n_feature=6 | {a['cnn_normal']:.4f} | {a['cnn_permuted']:.4f} | "
            f"{summary['cnn_loss_under_permutation']:+.4f} |",
            f"| CNN minus FC | {summary['cnn_advantage_normal']:+.4f} | {summary['cnn_advantage_permuted']:+.4f} | |",
            "", "The CNN's convolutions assume neighbouring pixels belong together; a fixed shuffle breaks that, "
            "while the FC net never used it. The seed's claim: the CNN's advantage disappears on permuted pixels."]


def _figure(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return "—" if value is None else str(value)


def render_table(report: dict) -> str:
    """The report's body as Markdown: a summary line and one table row per experiment or missing id."""
    lines = [f"{report['reproduced_ids']} of {report['catalogue_ids']} catalogue ids have an experiment "
             f"({report['experiments']} experiment{'' if report['experiments'] == 1 else 's'}). Links open the run in `make ui` on the store that produced "
             f"the metrics.", "",
             "| id | experiment | seed reports | ours | ours − seed | data (source) | comparable | epochs | train s "
             "| device | MLflow run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        if r["experiment"] is None:
            lines.append(f"| {r['id']} | — | {r['seed_reported']} | not yet reproduced | | | | | | | |")
            continue
        run = f"[{r['mlflow_run_id'][:8]}]({r['mlflow_url']})" if r["mlflow_url"] else "—"
        seconds = _figure(float(r["train_seconds"])) if r["train_seconds"] is not None else "—"
        data = r["data"] if r["source"] == r["data"] else f"{r['data']} ({r['source']})"
        lines.append(f"| {r['id']} | {r['experiment']} | {r['seed_reported']} | {r['metric']} {_figure(r['ours'])} | "
                     f"{_figure(r['difference'])} | {data} | {r['comparable']} | "
                     f"{_figure(r['epochs'])} | {seconds} | {_figure(r['device'])} | {run} |")
    if report.get("permutation"):
        lines += render_permutation(report["permutation"])
    return "\n".join(lines) + "\n"


def render_markdown(report: dict) -> str:
    """metrics/report.md: a title, where it comes from, the table."""
    return ("# Reproduction report\n\nGenerated by `dvc repro report` from `metrics/*.json`; do not edit by hand.\n\n"
            + render_table(report))


def update_readme(readme: Path, report: dict, write: bool = True) -> bool:
    """Replace what lies between the report markers in `readme` with the table; True if that changes the file."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ReprozooError(f"{readme}: no '{README_START}' ... '{README_END}' block to render the report into")
    new = text[:start + len(README_START)] + "\n" + render_table(report) + text[end:]
    if new != text and write:
        readme.write_text(new)
    return new != text


def main() -> None:
    parser = argparse.ArgumentParser(description="Render metrics/report.json (from `dvc repro report`) elsewhere.")
    parser.add_argument("--readme", nargs="?", const=ROOT / "README.md", type=Path, required=True,
                        help="rewrite the report block of this Markdown file (default README.md)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the block is out of date")
    args = parser.parse_args()
    source = ROOT / "metrics" / "report.json"
    if not source.exists():
        raise ReprozooError(f"{source}: missing; create it with: dvc repro report")
    changed = update_readme(args.readme, json.loads(source.read_text()), write=not args.check)
    if args.check and changed:
        print(f"{args.readme}: report block is out of date; run: python -m reprozoo.report --readme")
        sys.exit(1)
    print(f"{args.readme}: report block {'updated' if changed else 'current'}")


if __name__ == "__main__":
    run_main(main)
