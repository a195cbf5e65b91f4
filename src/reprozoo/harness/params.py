"""params.yaml for the code above the tasks, read once into the one typed model: one stage's experiment
(load_experiment) or every kind's (load_all). Each experiment is typed by its kind's model, which the
registry (reprozoo.tasks) imports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprozoo.config.errors import ReprozooError
from reprozoo.config.params import Params, load_params, parse_params, read_params
from reprozoo.tasks import Task, kinds, task_for


def load_experiment(name: str, path: Path | None = None) -> tuple[Params, Task, Any]:
    """params.yaml for the stage that runs `name`, read once: checked whole, the experiments of its kind (and of
    the kinds its task reads, `reads`) typed by their models, the others by shape only."""
    raw = read_params(path)
    entries = raw.get("experiments") if isinstance(raw, dict) else None
    kind = next((k for k, e in (entries if isinstance(entries, dict) else {}).items()
                 if isinstance(e, dict) and name in e), None)
    if kind is None:  # the file's own problems, else the names it knows
        known = parse_params(raw).names()
        raise ReprozooError(f"experiment {name!r} is not in params.yaml; known: {', '.join(known)}")
    task = task_for(kind)
    params = parse_params(raw, {k: task_for(k).params_model for k in (kind, *task.reads)}, partial=True)
    return params, task, params.experiments[kind][name]


def load_all(path: Path | None = None) -> Params:
    """params.yaml with every experiment typed by its kind's model (every task module imported)."""
    return load_params(path, kinds())
