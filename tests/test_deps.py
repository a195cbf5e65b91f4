"""dvc.yaml's deps cannot silently go wrong: each stage lists every module its script imports."""

from __future__ import annotations

import re

import pytest
import yaml

from imports import closure
from reprozoo import ROOT

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def body(stage: dict) -> dict:
    """A stage's definition (the `do` of a foreach), with its own `vars` (a kind's name) filled in."""
    definition = stage.get("do", stage)
    for entry in definition.get("vars", []):
        for name, value in entry.items():
            definition = yaml.safe_load(yaml.safe_dump(definition).replace(f"${{{name}}}", str(value)))
    return definition


def scripts(stage: dict) -> list:
    """The files a stage runs: its script, and for `stages/run.py` the task module of its kind."""
    script = re.search(r"python (stages/\S+\.py)", body(stage)["cmd"])[1]
    files = [ROOT / script]
    kind = re.fullmatch(r"\$\{experiments\.(\w+)\}", str(stage.get("foreach", "")))
    if kind:
        files.append(ROOT / "src" / "reprozoo" / "tasks" / f"{kind[1]}.py")
    if script == "stages/check_params.py":  # reprozoo.tasks.kinds() imports every kind's module
        files += sorted((ROOT / "src" / "reprozoo" / "tasks").glob("[!_]*.py"))
    return files


def covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_its_import_closure(name):
    stage = STAGES[name]
    deps = [str(d) for d in body(stage)["deps"]]
    needed = {str(p.relative_to(ROOT)) for p in closure(*scripts(stage))} | \
        {str(p.relative_to(ROOT)) for p in scripts(stage)}
    missing = sorted(p for p in needed if not covered(p, deps))
    assert not missing, f"dvc.yaml stage {name!r} runs {missing} but does not list them in deps"


def test_each_kind_imports_little():
    """A change to one kind's module reruns only that kind: no stage but its own imports it."""
    for name, stage in STAGES.items():
        for task in (ROOT / "src" / "reprozoo" / "tasks").glob("*.py"):
            if task.name == "__init__.py":
                continue
            imported = {p.name for p in closure(*scripts(stage))} | {p.name for p in scripts(stage)}
            own = f"${{experiments.{task.stem}}}" == str(stage.get("foreach", ""))
            shared = task.stem == "image_classifier" and name == "probe"  # a probe rebuilds a trained classifier
            # check-params reads every kind's params model; its output stays the same while params are valid,
            # so nothing after it reruns
            checks = name == "check-params"
            assert own or shared or checks or task.name not in imported, (name, task.name)


def test_no_import_cycles_and_small_files():
    """src/ has no circle of module-level imports and no file over 300 lines."""
    import ast

    from imports import module_file

    src = ROOT / "src" / "reprozoo"
    graph = {}
    for path in src.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 300, f"{path} is over 300 lines"
        edges = set()
        for node in ast.parse(path.read_text()).body:  # module level: what runs on import
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names += [f"{node.module}.{a.name}" for a in node.names]
            edges |= {f for f in map(module_file, names) if f is not None and f != path}
        graph[path] = edges
    state: dict = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(str(p.relative_to(src)) for p in cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
