"""make check-reproduction: re-derive every experiment from scratch and hold each figure to the contract.

The contract (docs/reproducibility.md):
  (a) where the re-derivation's kernel fingerprint (metrics/kernels.json, reprozoo.report.kernels) agrees with the
      committed run's, on the CPU, with the same threads and torch: every figure bit for bit (at the 6
      significant digits metrics/ keeps);
  (b) anywhere else (another CPU family, a GPU, another platform): every figure within its tolerance:
      - a figure with a spread measured over training seeds (params.yaml `spread`): 3 sd of it;
      - an accuracy (a share of n test items): 3 x the larger of that sd and the sampling sd
        sqrt(p(1-p)/n) of its own test set (Jordan, "Calibrated Chaos", ICLR 2024);
      - a figure computed from the data without training (the SVD's, a chance level: its task's
        `data_figures`, or `trains = False`): float precision, 1e-3 of its size;
      - any other continuous figure of a trained model without a spread: 3 x r x its size, r being the
        largest relative sd (sd / mean) of a test loss measured over seeds in the committed report.
Integer figures (counts, epochs) and the data are exact everywhere, but for a count that training seeds
were measured to move (char RNNs' chars_right), which takes 3 sd of its spread. Wall-clock figures
(train_seconds) are never judged; any other figure left unjudged is an error. Every tolerance wider than
20 % of its figure is listed with its reason under the table.

    python -m reprozoo.report.check            # clone HEAD into a temp folder, `dvc repro` there, compare
    python -m reprozoo.report.check --derived DIR   # compare a tree someone already re-derived
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from reprozoo import ROOT
from reprozoo.data.files import read_json
from reprozoo.config.errors import ReprozooError
from reprozoo.ledger.stage import run_main
from reprozoo.report.kernels import agree, read_fingerprint

WALL_CLOCK = ("train_seconds",)
SAME_RUN = ("threads", "torch")  # what run.json's `machine` must share for (a), besides the fingerprint
ROUTES = ("identical (a)", "exact everywhere", "3 sd of the measured spread (b)", "3 sampling sd (b)",
          "3 x the loss rule (b)", "not judged (wall clock)", "not judged", "float precision (b)")
FLOAT_PRECISION = 1e-3  # relative: what another CPU's or a GPU's sums may move an untrained figure by
WIDE = 0.2  # a tolerance over this share of its figure is listed with its reason
REASONS = {ROUTES[2]: "training seeds were measured to move it that much (params.yaml spread)",
           ROUTES[3]: "its test set's sampling noise, sqrt(p(1-p)/n), exceeds its measured spread",
           ROUTES[4]: "a trained figure without a measured spread: the loss rule (3 x r x its size)"}
ACCURACY_LIKE = ("test_precision", "test_recall", "test_predicted_positive_fraction")


def loss_rule(report: dict) -> float | None:
    """r: the largest relative sd (sd / mean) of a test loss measured over training seeds."""
    found = [s["sd"] / abs(s["mean"]) for r in report["rows"] for key, s in (r.get("figure_spreads") or {}).items()
             if key == "test_loss" and s.get("sd") and s["mean"]]
    return max(found) if found else None


def sampling_sd(key: str, value: float, metrics: dict) -> float | None:
    """The binomial sd sqrt(p(1-p)/n) of an accuracy-like figure over its own n items; None if not one."""
    if not (key.endswith("accuracy") or key.endswith("accuracy_2d") or key in ACCURACY_LIKE):
        return None
    prefix = key.split("_")[0]
    n = metrics.get(f"{prefix}_samples") or metrics.get("test_samples") or metrics.get("samples")
    if not n:
        return None
    p = min(max(value, 1 / n), 1 - 1 / n)  # at least one item either way: a p of 1.0 still allows one miss
    return math.sqrt(p * (1 - p) / n)


def tolerance(key: str, value, metrics: dict, spread: dict | None, r: float | None,
              trained: bool = True) -> tuple[str, float | None]:
    """(route, allowed absolute difference) of one figure under (b); allowed None: exact."""
    sd = spread.get("sd") if spread else None
    if isinstance(value, int) and not isinstance(value, bool):  # a count: exact, unless training seeds move it
        return (ROUTES[2], 3 * sd) if sd else (ROUTES[1], None)
    if not trained:  # no training moves it: only the order of float sums may differ
        return ROUTES[7], FLOAT_PRECISION * abs(value)
    binomial = sampling_sd(key, value, metrics)
    if binomial is not None:
        if sd and sd > binomial:
            return ROUTES[2], 3 * sd
        return ROUTES[3], 3 * binomial
    if sd:
        return ROUTES[2], 3 * sd
    if r is None:
        return ROUTES[6], None
    scale = abs(metrics["std"]) if key == "mean" and "std" in metrics else abs(value)  # a mean near 0: its spread
    return ROUTES[4], 3 * r * scale


def untrained() -> dict[str, tuple[str, ...] | None]:
    """experiment -> the figures no training moves (its task's `data_figures`), None where nothing trains."""
    from reprozoo.config.params import load_params
    from reprozoo.tasks import task_for

    tasks = {name: task_for(kind) for name, kind in load_params().names().items()}
    return {name: task.data_figures if task.trains else None for name, task in tasks.items()}


def exact_contract(committed: dict, derived: dict, kernels_agree: bool) -> bool:
    """Whether route (a) holds for one experiment: agreeing fingerprints, the CPU, the same threads and torch."""
    a, b = committed.get("machine", {}), derived.get("machine", {})
    return kernels_agree and committed.get("device") == derived.get("device") == "cpu" and \
        all(a.get(k) is not None and a.get(k) == b.get(k) for k in SAME_RUN)


def committed_tree(into: Path) -> Path:
    """HEAD's metrics/ (git's copy, not the working tree's, which a local `dvc repro` rewrites) under `into`."""
    archive = subprocess.run(["git", "archive", "HEAD", "metrics"], cwd=ROOT, capture_output=True)
    if archive.returncode:
        raise ReprozooError(f"{ROOT}: git archive HEAD metrics failed ({archive.stderr.decode().strip()[:200]}); "
                            "run from a git checkout of the project")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def compare(derived: Path, committed: Path | None = None) -> list[dict]:
    """One row per figure of every experiment in committed/metrics/ (default: HEAD's): committed, now,
    difference, allowed, route."""
    if committed is None:
        committed = committed_tree(Path(tempfile.mkdtemp(prefix="reprozoo-committed-")))
    report = read_json(committed / "metrics" / "report.json", "dvc repro report")
    r = loss_rule(report)
    mine_k, theirs_k = (p / "metrics" / "kernels.json" for p in (committed, derived))
    kernels_agree = mine_k.exists() and theirs_k.exists() and agree(read_fingerprint(mine_k, "dvc repro kernels"),
                                                                     read_fingerprint(theirs_k, "dvc repro kernels"))
    committed_runs = {row["experiment"]: row for row in report["rows"] if row.get("experiment")}
    from_data = untrained()
    rows = []
    for name in sorted(committed_runs):
        mine = read_json(committed / "metrics" / f"{name}.json", f"git checkout metrics/{name}.json")
        fix = f"dvc repro in {derived}"
        theirs = read_json(derived / "metrics" / f"{name}.json", fix)
        record = read_json(derived / "results" / name / "run.json", fix)
        exact = exact_contract(committed_runs[name], record, kernels_agree)
        spreads = committed_runs[name].get("figure_spreads") or {}
        rows.append({"experiment": name, "figure": "data_sha256", "committed": committed_runs[name]["data_sha256"],
                     "now": record["data_sha256"], "difference": None, "allowed": "identical", "route": ROUTES[1],
                     "ok": record["data_sha256"] == committed_runs[name]["data_sha256"]})
        for key in sorted(set(mine) | set(theirs)):
            a, b = mine.get(key), theirs.get(key)
            row = {"experiment": name, "figure": key, "committed": a, "now": b,
                   "difference": None if a is None or b is None else b - a}
            if key in WALL_CLOCK:
                row.update(allowed="not judged (wall clock)", route=ROUTES[5], ok=True)
            elif a is None or b is None:
                row.update(allowed="present in both", route=ROUTES[1], ok=False)
            elif exact:
                row.update(allowed="identical (a)", route=ROUTES[0], ok=a == b)
            else:
                moved = name not in from_data or (from_data[name] is not None and key not in from_data[name])
                route, limit = tolerance(key, a, mine, spreads.get(key), r, moved)
                if route == ROUTES[6]:
                    row.update(allowed="not judged: no tolerance", route=route, ok=False)
                elif limit is None:
                    row.update(allowed="identical", route=route, ok=a == b)
                else:
                    row.update(allowed=f"{limit:.4g} ({route})", route=route, ok=abs(b - a) <= limit, limit=limit)
            rows.append(row)
    return rows


def render(rows: list[dict]) -> str:
    """The comparison as a plain-text table, breaches first marked."""
    def cell(v) -> str:
        return "—" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)[:16]

    lines = [f"{'experiment':<28} {'figure':<24} {'committed':>16} {'now':>16} {'difference':>12}  allowed"]
    for r in rows:
        mark = "" if r["ok"] else "  <- BREACH"
        lines.append(f"{r['experiment']:<28} {r['figure']:<24} {cell(r['committed']):>16} {cell(r['now']):>16} "
                     f"{cell(r['difference']):>12}  {r['allowed']}{mark}")
    breaches = sum(not r["ok"] for r in rows)
    lines.append(f"{len(rows)} figures of {len({r['experiment'] for r in rows})} experiments; {breaches} breach(es)")
    lines.append("judged by route: " + "; ".join(f"{route}: {sum(r['route'] == route for r in rows)}"
                                                  for route in ROUTES))
    wide = [r for r in rows if r.get("limit") is not None and r["limit"] > WIDE * abs(r["committed"])]
    if wide:
        lines.append(f"tolerances over {WIDE:.0%} of their figure ({len(wide)}), and why:")
        lines += [f"  {r['experiment']} {r['figure']}: {cell(r['limit'])} of {cell(r['committed'])}; "
                  f"{REASONS.get(r['route'], r['route'])}" for r in wide]
    return "\n".join(lines)


def rederive(into: Path) -> Path:
    """A fresh clone of HEAD with `dvc repro` run in it: nothing cached, every stage runs."""
    repo = into / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PYTHONPATH"] = str(repo / "src")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(["dvc", "repro"], cwd=repo, env=env)
    if result.returncode:
        raise ReprozooError(f"dvc repro in the fresh clone {repo} failed (exit {result.returncode}); see above")
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description="Re-derive every experiment and compare with the committed figures.")
    parser.add_argument("--derived", type=Path, help="an already re-derived checkout (default: clone HEAD and run)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    derived = args.derived or rederive(Path(tempfile.mkdtemp(prefix="reprozoo-check-")))
    rows = compare(derived)
    print(render(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if any(not r["ok"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    run_main(main)
