"""The reproduction report: every CATALOGUE id, what the seed prints, ours beside it, and whether they compare.

It reads each experiment's metrics/<name>.json (numbers) and results/<name>/run.json (its seed id,
main_metric, data, recipe and MLflow ids, as reprozoo.harness.outputs writes them), and the spread runs of
results/spread/. A row is comparable only when the data and the recipe are both the seed's and the
seed (or, marked "outside", the page it follows) gives a number for our figure; only then is the
difference shown, with the run-to-run spread and a verdict.
`python -m reprozoo.report.report --readme` copies the table into README.md between the markers.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

from scipy.stats import t as t_dist

from reprozoo import ROOT
from reprozoo.config.catalogue import CATALOGUE
from reprozoo.data.files import read_json
from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main

UI_URL = "http://127.0.0.1:5000"  # where `make ui` serves the store the runs were logged to
# MLflow 3's UI shows an experiment in its GenAI workflow (traces) unless told which one: ours is training.
UI_VIEW = "workflowType=machine_learning"
README_START, README_END = "<!-- report:start -->", "<!-- report:end -->"
NOT_FULL = {"subset": "partly: a subset of the seed's data", "stand-in": "no: stand-in data",
            "other": "no: other data than the seed's"}


def read_outputs(name: str, root: Path) -> dict:
    """An experiment's metrics and run record, checked for what the report needs."""
    fix = f"dvc repro (the stages of {name})"
    metrics = read_json(root / "metrics" / f"{name}.json", fix)
    run = read_json(root / "results" / name / "run.json", fix)
    main = run.get("main_metric")
    needed = ("source", "data_sha256", "data_fidelity", "params")
    if run.get("reproduces") not in CATALOGUE or main is None or any(k not in run for k in needed) or \
            run["data_fidelity"] not in ("full", *NOT_FULL):
        raise ReprozooError(f"{root / 'results' / name / 'run.json'}: needs a CATALOGUE id in `reproduces`, a "
                            f"main_metric, {', '.join(needed)} (data_fidelity one of full, {', '.join(NOT_FULL)}); "
                            f"recreate it with: {fix}")
    if main not in metrics and main not in run.get("info", {}):
        raise ReprozooError(f"{root / 'metrics' / f'{name}.json'}: no {main!r}, the main_metric; recreate it with: {fix}")
    return {"metrics": metrics, "run": run}


def spread_figures(name: str, root: Path) -> dict[int, dict]:
    """Each extra training seed's figures of `name` (results/spread/<name>.json), by seed."""
    path = root / "results" / "spread" / f"{name}.json"
    if not path.exists():
        return {}
    record = read_json(path, f"dvc repro spread@{name}")
    runs = record.get("runs") if isinstance(record, dict) else None
    if not isinstance(runs, dict) or not all(isinstance(m, dict) for m in runs.values()):
        raise ReprozooError(f"{path}: needs `runs`, each seed's figures; recreate it with: dvc repro --force "
                            f"spread@{name}")
    return {int(seed): figures for seed, figures in runs.items()}


def other_recipe_spreads(root: Path) -> set[str]:
    """The experiments whose spread dvc.lock records under other params than the experiment's own stages: a
    sweep that names its evaluate stage (README) retrains the experiment but leaves its spread as it was."""
    import yaml

    lock = root / "dvc.lock"
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages") or {} if lock.exists() else {}
    recipes: dict[str, dict[str, list]] = {}  # experiment -> {"spread" | "own": [its params as each stage ran]}
    for stage, entry in stages.items():
        for key, value in ((entry.get("params") or {}).get("params.yaml") or {}).items():
            if key.startswith("experiments.") and key.count(".") >= 2:
                side = "spread" if stage.startswith("spread@") else "own"
                recipes.setdefault(key.split(".", 2)[2], {}).setdefault(side, []).append(value)
    return {name for name, sides in recipes.items()
            if any(own != spread for own in sides.get("own", []) for spread in sides.get("spread", []))}


def spread(values: list[float]) -> dict:
    """mean, sample sd and n of a figure over training seeds, and the 95 % interval in which a further run
    is expected to land (Student's t prediction interval: mean ± t(0.975, n-1) · sd · sqrt(1 + 1/n))."""
    n = len(values)
    mean, sd = statistics.fmean(values), statistics.stdev(values) if n > 1 else None
    half = float(t_dist.ppf(0.975, n - 1)) * sd * math.sqrt(1 + 1 / n) if sd is not None else None
    return {"mean": mean, "sd": sd, "n": n, "interval95": [mean - half, mean + half] if half is not None else None}


def figure_spreads(own_seed: int, metrics: dict, runs: dict[int, dict]) -> dict[str, dict]:
    """The spread of every numeric figure the committed run and the spread runs all have (wall clock aside)."""
    out = {}
    for key, value in metrics.items():
        values = [value] + [r.get(key) for seed, r in runs.items() if seed != own_seed]
        if key != "train_seconds" and len(values) > 1 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[key] = spread(values)
    return out


def comparability(run: dict, entry) -> str:
    """yes, or why not: the seed gives no number, the data or the recipe are not the seed's."""
    if entry.value is None or entry.metric != run["main_metric"]:
        return "no: the seed gives no number for this"
    if run["data_fidelity"] != "full":
        return NOT_FULL[run["data_fidelity"]]
    deviation = run["params"].get("deviation")
    return f"partly: {deviation}" if deviation else "yes"


def row(name: str, found: dict, root: Path, other_recipe: bool = False) -> dict:
    """One experiment's row; `other_recipe`: its spread was measured under other params, so none is shown."""
    m, run = found["metrics"], found["run"]
    entry = CATALOGUE[run["reproduces"]]
    main = run["main_metric"]
    ours = m.get(main, run.get("info", {}).get(main))
    comparable = comparability(run, entry)
    numeric = isinstance(ours, (int, float)) and not isinstance(ours, bool)
    runs = {} if other_recipe else spread_figures(name, root)
    own = run["params"].get("seed", 0)
    spreads = figure_spreads(own, m, runs)
    s = spreads.get(main) if numeric else None
    verdict = None
    if comparable == "yes" and s and s["sd"]:
        # Does the seed's figure, give or take its own printed rounding ("0.96" is any of 0.955-0.965), lie in
        # the 95 % interval where a further run of ours would land?
        low, high = s["interval95"]
        within = low - entry.rounding <= entry.value <= high + entry.rounding
        verdict = f"{'inside' if within else 'outside'} our 95 % interval (t, n={s['n']})"
    elif comparable == "yes" and s:  # every run gave the same figure (a count such as chars_right): no interval
        figure = "the seed's figure" if abs(s["mean"] - entry.value) <= entry.rounding else "one other figure"
        verdict = f"all {s['n']} runs give {figure}"
    return {
        "id": run["reproduces"], "experiment": name, "seed_printed": entry.printed, "seed_outside": entry.outside,
        "seed_value": entry.value, "seed_value_outside": entry.outside_value, "seed_note": entry.note,
        "metric": main, "ours": ours, "spread": s, "seeds": sorted({own, *runs}) if runs else [],
        "figure_spreads": spreads,
        "difference": round(ours - entry.value, 6) if comparable == "yes" else None, "verdict": verdict,
        "source": run["source"], "data": run["data_fidelity"], "data_sha256": run["data_sha256"],
        "comparable": comparable,
        "epochs": m.get("epochs"), "train_seconds": m.get("train_seconds"), "device": run.get("device"),
        "machine": run.get("machine"),
        "mlflow_run_id": run.get("mlflow_run_id"), "mlflow_experiment_id": run.get("mlflow_experiment_id"),
        "mlflow_url": (f"{UI_URL}/#/experiments/{run['mlflow_experiment_id']}/runs/{run['mlflow_run_id']}?{UI_VIEW}"
                       if run.get("mlflow_run_id") and run.get("mlflow_experiment_id") else None),
        "model": run.get("info", {}).get("model"), "permute_pixels": run.get("info", {}).get("permute_pixels"),
    } | ({"spread_note": f"its spread was measured under another recipe; measure this one: dvc repro spread@{name}"}
         if other_recipe else {})


def build_report(experiments: list[str], root: Path = ROOT) -> dict:
    """Rows for every catalogue id: its experiments' figures, or 'not yet reproduced'."""
    other = other_recipe_spreads(root)
    rows = [row(name, read_outputs(name, root), root, name in other) for name in experiments]
    out = []
    for cid, entry in CATALOGUE.items():
        mine = [r for r in rows if r["id"] == cid]
        out += mine or [{"id": cid, "experiment": None, "seed_printed": entry.printed, "seed_outside": entry.outside}]
    return {"catalogue_ids": len(CATALOGUE), "reproduced_ids": len({r["id"] for r in rows}), "experiments": len(rows),
            "rows": out, "permutation": permutation_summary(rows)}


PERMUTED = "s004-fc-vs-cnn-permuted"


def permutation_summary(rows: list[dict]) -> dict | None:
    """Seed 004's point in numbers: the CNN's lead over the FC net on images, and what a pixel shuffle costs each."""
    acc = {("fc" if r["model"] == "mlp" else "cnn", r["permute_pixels"]): r["ours"] for r in rows if r["id"] == PERMUTED}
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


def _ours(r: dict) -> str:
    s = r["spread"]
    if s and s["sd"] is not None:
        return f"{r['metric']} {_figure(r['ours'])}; {s['mean']:.4f} ± {s['sd']:.4f} (n={s['n']})"
    return f"{r['metric']} {_figure(r['ours'])}"


def _seed(r: dict) -> str:
    text = r["seed_printed"] or "—"
    if r["seed_outside"]:
        text += f" (outside, not the seed's: {r['seed_outside']})"
    return text


def render_table(report: dict) -> str:
    """The report's body as Markdown: a summary line and one table row per experiment or missing id."""
    lines = [f"{report['reproduced_ids']} of {report['catalogue_ids']} catalogue ids have an experiment "
             f"({report['experiments']} experiments). Ours: the committed run; where several training seeds ran, "
             "then mean ± sd (n). Verdict: whether the seed's figure, give or take its printed rounding, lies "
             "inside the 95 % interval where a further run of ours would land (Student's t prediction interval "
             "over our n runs). Links open the run in `make ui` on the store that produced the metrics.", "",
             "| id | experiment | the seed prints | ours | ours − seed | verdict | data (source) | comparable | epochs "
             "| train s | MLflow run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        if r["experiment"] is None:
            lines.append(f"| {r['id']} | — | {_seed(r)} | not yet reproduced | | | | | | | |")
            continue
        run = f"[{r['mlflow_run_id'][:8]}]({r['mlflow_url']})" if r["mlflow_url"] else "—"
        lines.append(f"| {r['id']} | {r['experiment']} | {_seed(r)} | {_ours(r)} | {_figure(r['difference'])} | "
                     f"{r['verdict'] or '—'} | {r['data']} ({r['source']}) | {r['comparable']} | "
                     f"{_figure(r['epochs'])} | {_figure(r['train_seconds'])} | {run} |")
    notes = sorted({f"- {r['id']}: {r['seed_note']}." for r in report["rows"] if r.get("seed_note")} |
                   {f"- {r['experiment']}: {r['spread_note']}." for r in report["rows"] if r.get("spread_note")})
    if notes:
        lines += ["", *notes]
    if report.get("permutation"):
        lines += render_permutation(report["permutation"])
    return "\n".join(lines) + "\n"


def render_markdown(report: dict) -> str:
    """metrics/report.md: a title, where it comes from, the table."""
    return ("# Reproduction report\n\nGenerated by `dvc repro report` from `metrics/` and `results/`; do not edit "
            "by hand.\n\n" + render_table(report))


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
    report = read_json(ROOT / "metrics" / "report.json", "dvc repro report")
    try:
        changed = update_readme(args.readme, report, write=not args.check)
    except (KeyError, TypeError):  # a report.json from an older version of this file
        raise ReprozooError(f"{ROOT / 'metrics' / 'report.json'}: not in this version's format; recreate it "
                            "with: dvc repro report") from None
    if args.check and changed:
        print(f"{args.readme}: report block is out of date; run: python -m reprozoo.report.report --readme")
        sys.exit(1)
    print(f"{args.readme}: report block {'updated' if changed else 'current'}")


if __name__ == "__main__":
    run_main(main)
