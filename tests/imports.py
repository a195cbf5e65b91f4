"""The files a stage script runs: its import closure inside src/reprozoo (every import, lazy ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

from reprozoo import ROOT

SRC = ROOT / "src"


def module_file(module: str) -> Path | None:
    """src/reprozoo/a/b.py or src/reprozoo/a/b/__init__.py for 'reprozoo.a.b'; None outside the package."""
    if module != "reprozoo" and not module.startswith("reprozoo."):
        return None
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement in `path` names (and the modules `from x import y` may mean)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # submodules
    return found


def closure(*paths: Path) -> set[Path]:
    """The files under src/reprozoo that running `paths` imports, with each package's __init__.py."""
    todo, seen = list(paths), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                f = module_file(".".join(parts[:i]))
                if f is not None and f not in seen:
                    todo.append(f)
    return {p for p in seen if SRC in p.parents}
