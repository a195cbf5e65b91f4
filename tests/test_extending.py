"""docs/extending.md, followed literally in a throwaway project: an experiment of an existing kind, then a kind.

Each fenced block of the page whose first line names a file (`# params.yaml`, `# dvc.yaml, at the end of
stages`, `# src/...py[, above/in `class X`]`) is applied there as written, and each `bash` block's command
that regenerates a file is run. `dvc repro` must then train both new experiments, log one FINISHED MLflow
run each and give each its row in the report; the variant's curves join metrics/curves.csv. The page's
table of hand-written lines must match the non-blank lines the blocks added.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from reprozoo import ROOT
from workspace import check, make_project, mlflow_runs, set_params

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "extending.md"
VARIANT, KIND_EXPERIMENT, KEPT = "s003-cnn-mnist-wide", "s002-closed-form", "s003-cnn-mnist"


def blocks(text: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of each fenced block, dedented to its fence."""
    found = []
    for m in re.finditer(r"^( *)```(\w+)\n(.*?)^\1```$", text, flags=re.S | re.M):
        indent = len(m.group(1))
        found.append((m.group(2), [line[indent:] for line in m.group(3).splitlines()]))
    return found


def insert_yaml(path: Path, lines: list[str]) -> int:
    """Put a YAML fragment into `path` as text (the file keeps its comments and layout): the fragment's
    leading section headers that the file has are found in order; the rest goes under the last one."""
    text = path.read_text().splitlines()
    at, depth = -1, 0
    for depth, line in enumerate(lines):
        if not re.fullmatch(r" *[\w-]+:", line) or line not in text[at + 1:]:
            break
        at = text.index(line, at + 1)
    added = lines[depth:]
    end = at + 1  # after the section's own lines: the next line indented no deeper than the header
    header_indent = len(text[at]) - len(text[at].lstrip())
    while end < len(text) and (not text[end].strip() or len(text[end]) - len(text[end].lstrip()) > header_indent):
        end += 1
    path.write_text("\n".join(text[:end] + added + text[end:]) + "\n")
    return sum(1 for line in added if line.strip())


def insert_python(path: Path, where: str, lines: list[str]) -> int:
    """A new file, or lines put above or just inside `class X` of an existing one."""
    if not where:
        path.write_text("\n".join(lines) + "\n")
    else:
        side, cls = re.fullmatch(r"(above|in) `class (\w+)`", where).groups()
        text = path.read_text().splitlines()
        at = next(i for i, line in enumerate(text) if line.startswith(f"class {cls}("))
        at += 1 if side == "in" else 0
        path.write_text("\n".join(text[:at] + lines + text[at:]) + "\n")
    return sum(1 for line in lines if line.strip())


def insert_stage(path: Path, lines: list[str]) -> int:
    """A stage group at the end of dvc.yaml's `stages:` (before the next top-level line), as text: the group
    refers to a YAML anchor defined above it."""
    text = path.read_text().splitlines()
    at = next(i for i in range(text.index("stages:") + 1, len(text)) if text[i][:1] not in ("", " "))
    path.write_text("\n".join(text[:at] + lines + [""] + text[at:]) + "\n")
    return sum(1 for line in lines if line.strip())


def apply(repo: Path, section: str) -> dict[str, int]:
    """Apply one section of the page to `repo`; the non-blank lines written into each file."""
    written: dict[str, int] = {}
    for lang, lines in blocks(section):
        if lang == "bash":
            for line in lines:
                if "--schema >" in line:  # the one generated file a kind regenerates
                    check(["bash", "-c", line], repo)
            continue
        target = re.fullmatch(r"# ([\w/.]+)(?:, (.*))?", lines[0])
        if not target:
            continue
        path, where = repo / target[1], target[2] or ""
        if target[1] == "params.yaml":
            n = insert_yaml(path, lines[1:])
        elif target[1] == "dvc.yaml":
            n = insert_stage(path, lines[1:])
        else:
            n = insert_python(path, where, lines[1:])
        written[target[1]] = written.get(target[1], 0) + n
    return written


def table_counts(text: str) -> list[list[int]]:
    """The `lines` column of the page's first table: each row's numbers before the `=` (or the one)."""
    rows = re.findall(r"^\| (?:an experiment|a new kind)[^|]*\|[^|]*\| ([\d +=]+) \|$", text, flags=re.M)
    return [[int(n) for n in re.findall(r"\d+", row.split("=")[0])] for row in rows]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A shrunk project with one experiment (the page copies its entry) besides what the page adds."""
    repo = make_project(tmp_path_factory.mktemp("extending") / "repo", {"runtime.threads": 1})
    experiments = yaml.safe_load((repo / "params.yaml").read_text())["experiments"]
    kept = {kind: {n: e for n, e in entries.items() if n == KEPT} for kind, entries in experiments.items()}
    set_params(repo, {"experiments": kept, "spread": {"seeds": [], "experiments": {}}})  # each kind's foreach stays
    check(["git", "commit", "-qam", "no experiments"], repo)
    return repo


def test_following_the_page_adds_an_experiment_and_a_kind(project):
    text = DOC.read_text()
    variant_part, kind_part = text.split("\n## A new kind\n")
    variant = apply(project, variant_part)
    kind = apply(project, kind_part)
    assert variant == {"params.yaml": 11}, variant
    assert table_counts(text) == [[sum(variant.values())], list(kind.values())], (variant, kind)
    assert list(kind) == ["src/reprozoo/tasks/least_squares.py", "dvc.yaml", "params.yaml"]

    result = check(["dvc", "repro"], project, timeout=1200)
    ran = set(re.findall(r"Running stage '([^']+)'", result.stdout))
    assert {f"train@{VARIANT}", f"evaluate@{VARIANT}", f"least-squares@{KIND_EXPERIMENT}", "report"} <= ran, ran
    for name in (VARIANT, KIND_EXPERIMENT):
        runs = mlflow_runs(project, name)
        assert [r.info.status for r in runs] == ["FINISHED"], (name, runs)
    report = json.loads((project / "metrics" / "report.json").read_text())
    rows = {r["experiment"]: r for r in report["rows"] if r["experiment"]}
    assert set(rows) == {KEPT, VARIANT, KIND_EXPERIMENT}
    assert 0.8 < json.loads((project / "metrics" / f"{VARIANT}.json").read_text())["test_accuracy"] <= 1
    assert f"\n{VARIANT},1," in (project / "metrics" / "curves.csv").read_text()  # on dvc.yaml's charts
    prediction = json.loads((project / "metrics" / f"{KIND_EXPERIMENT}.json").read_text())["prediction"]
    assert abs(prediction - 8) < 1e-4  # the exact answer seed 002's optimizers approach
