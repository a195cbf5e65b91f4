"""dvc.yaml's deps cannot silently go wrong: each stage lists every module its script imports that can shape
its outputs' bytes, and none of the ledger's (src/reprozoo/ledger: MLflow, owners, progress, time lines,
retries), which only report; src/ keeps its layers (docs/pipeline.md, "Layers")."""

from __future__ import annotations

import re
import sys

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


LEDGER = "src/reprozoo/ledger/"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_its_import_closure(name):
    stage = STAGES[name]
    deps = [str(d) for d in body(stage)["deps"]]
    needed = {str(p.relative_to(ROOT)) for p in closure(*scripts(stage))} | \
        {str(p.relative_to(ROOT)) for p in scripts(stage)}
    missing = sorted(p for p in needed if not covered(p, deps) and not p.startswith(LEDGER))
    assert not missing, f"dvc.yaml stage {name!r} runs {missing} but does not list them in deps"
    assert not [d for d in deps if d.startswith(LEDGER.rstrip("/"))], f"{name}: the ledger decides no byte"


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


# Bottom to top: a module imports only from its own layer or the ones below; reprozoo/__init__.py is below all,
# the package's other top-level modules (reprozoo/names.py, a command) above all.
LAYERS = [("config",), ("data",), ("models",), ("training",), ("tasks",), ("ledger",), ("harness",),
          ("report", "perf", "team")]


def layer(path) -> int:
    part = path.relative_to(ROOT / "src" / "reprozoo").parts
    if len(part) == 1:
        return -1 if part[0] == "__init__.py" else len(LAYERS)
    return next(i for i, names in enumerate(LAYERS) if part[0] in names)


def test_every_import_points_down_and_no_task_reaches_mlflow():
    """Every import, lazy ones too, goes to the module's own layer or one below; a task's closure holds no
    MLflow (nor the ledger or the harness), and the maths' none of the tasks."""
    from imports import imported_modules, module_file

    src = ROOT / "src" / "reprozoo"
    upward = []
    for path in sorted(src.rglob("*.py")):
        for module in imported_modules(path):
            target = module_file(module)
            if target is not None and layer(target) > layer(path):
                upward.append(f"{path.relative_to(src)} -> {target.relative_to(src)}")
    assert not upward, upward
    for task in sorted((src / "tasks").glob("*.py")):
        reached = closure(task) | {task}
        assert not {p for p in reached if p.parts[-2] in ("ledger", "harness")}, task
        assert not [m for p in reached for m in imported_modules(p) if m.split(".")[0] == "mlflow"], task
    for maths in sorted((src / "training").glob("*.py")):
        assert not {p for p in closure(maths) if p.parts[-2] in ("tasks", "ledger", "harness")}, maths


def stale_code(repo) -> dict[str, set[str]]:
    """`dvc status`'s view of `repo`: stage -> the code deps (src/, stages/) that differ from dvc.lock's."""
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=repo, capture_output=True, text=True,
                         check=True).stdout
    found = {}
    for stage, changes in json.loads(out).items():
        for change in changes:
            if isinstance(change, dict) and "changed deps" in change:
                code = {p for p, how in change["changed deps"].items()
                        if p.startswith(("src/", "stages/"))}
                if code:
                    found[stage] = code
    return found


def test_a_comment_in_the_ledger_stales_no_stage_and_one_in_a_model_module_does(tmp_path):
    """The rule of docs/pipeline.md ("What a stage depends on"), on a scratch copy of this checkout and its
    dvc.lock (whose code hashes are the code's, as `dvc repro` leaves them): a comment in each of the ledger's
    modules leaves every stage up to date; one in the CNN's module (models/cnn.py) marks train@s003-cnn-mnist."""
    import shutil
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("src", "stages", "dvc.yaml", "dvc.lock", "params.yaml", ".dvcignore"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, repo / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                           if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=repo, check=True)
    before = stale_code(repo)
    assert not before, f"dvc.lock's code hashes differ from the code's (dvc repro the stages): {before}"
    ledger = sorted((repo / "src" / "reprozoo" / "ledger").glob("*.py"))
    assert {p.stem for p in ledger} >= {"progress", "timing", "owners", "tracking", "remote", "runlog"}
    for module in ledger:
        module.write_text(module.read_text() + "# a comment\n")
    assert stale_code(repo) == before
    cnn = repo / "src" / "reprozoo" / "models" / "cnn.py"
    cnn.write_text(cnn.read_text() + "# a comment\n")
    after = stale_code(repo)
    assert "src/reprozoo/models" in after.get("train@s003-cnn-mnist", set())
