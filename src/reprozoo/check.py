"""make check-reproduction: re-derive every experiment from scratch and hold each figure to the contract.

The contract (docs/reproducibility.md):
  (a) on the CPU, in deterministic mode, with the same kernels (the pinned AVX2 set), thread count and
      torch, on the same CPU model as the committed run: every figure bit for bit (at the 6 significant
      digits metrics/ keeps);
  (b) anywhere else (another CPU model, a GPU, another platform): each figure with a measured
      run-to-run spread (params.yaml `spread`) within 3 sd of it; figures without one are shown,
      not judged.
Wall-clock figures (train_seconds) are never judged. The data must always be byte for byte the same.

    python -m reprozoo.check            # clone HEAD into a temp folder, `dvc repro` there, compare
    python -m reprozoo.check --derived DIR   # compare a tree someone already re-derived
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from reprozoo import ROOT
from reprozoo.data.files import read_json
from reprozoo.errors import ReprozooError, run_main

WALL_CLOCK = ("train_seconds",)
SAME_KERNELS = ("cpu", "cpu_capability", "threads", "torch")  # what run.json's `machine` must share for (a)


def spread_sd(report: dict) -> dict[tuple[str, str], float]:
    """(experiment, figure) -> the sd of that figure over training seeds, from a report.json."""
    return {(r["experiment"], r["metric"]): r["spread"]["sd"] for r in report["rows"]
            if r.get("experiment") and r.get("spread") and r["spread"].get("sd") is not None}


def exact_contract(committed: dict, derived: dict) -> bool:
    """Whether route (a) holds: both ran on the CPU with the same kernels, threads, torch and CPU model."""
    a, b = committed.get("machine", {}), derived.get("machine", {})
    return committed.get("device") == derived.get("device") == "cpu" and \
        all(a.get(k) is not None and a.get(k) == b.get(k) for k in SAME_KERNELS)


def compare(derived: Path, committed: Path = ROOT) -> list[dict]:
    """One row per figure of every experiment in committed/metrics/: committed, now, difference, allowed, verdict."""
    report = read_json(committed / "metrics" / "report.json", "dvc repro report")
    sd = spread_sd(report)
    committed_runs = {r["experiment"]: r for r in report["rows"] if r.get("experiment")}
    rows = []
    for name in sorted(committed_runs):
        mine = read_json(committed / "metrics" / f"{name}.json", f"git checkout metrics/{name}.json")
        fix = f"dvc repro in {derived}"
        theirs = read_json(derived / "metrics" / f"{name}.json", fix)
        record = read_json(derived / "results" / name / "run.json", fix)
        exact = exact_contract(committed_runs[name], record)
        rows.append({"experiment": name, "figure": "data_sha256", "committed": committed_runs[name]["data_sha256"],
                     "now": record["data_sha256"], "difference": None, "allowed": "identical",
                     "ok": record["data_sha256"] == committed_runs[name]["data_sha256"]})
        for key in sorted(set(mine) | set(theirs)):
            a, b = mine.get(key), theirs.get(key)
            row = {"experiment": name, "figure": key, "committed": a, "now": b,
                   "difference": None if a is None or b is None else b - a}
            if key in WALL_CLOCK:
                row.update(allowed="not judged (wall clock)", ok=True)
            elif a is None or b is None:
                row.update(allowed="present in both", ok=False)
            elif exact:
                row.update(allowed="identical (a)", ok=a == b)
            elif (name, key) in sd:
                row.update(allowed=f"3 sd = {3 * sd[(name, key)]:.4g} (b)", ok=abs(b - a) <= 3 * sd[(name, key)])
            else:
                row.update(allowed="not judged: no spread measured (b)", ok=True)
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
