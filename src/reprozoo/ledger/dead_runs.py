"""`python -m reprozoo.ledger.dead_runs`: end KILLED every RUNNING run of the store whose process died.

A stage ends the dead runs of its own stage and params when it starts (owners.py). But a `dvc repro`
after a kill -9 in training may start no process for that stage: DVC's run-cache puts the outputs of
the same params back, and the killed attempt's run would stay RUNNING. `make repro` and `make ui`
run this first; it touches only runs whose owner on this host is gone (owners.owner_alive).
"""

from __future__ import annotations

from pathlib import Path

from reprozoo.ledger.stage import run_main
from reprozoo.ledger.owners import end_dead_runs
from reprozoo.ledger.tracking import store_name, tracking_uri, use_store, with_retries


def end_all_dead_runs() -> list[str]:
    """The ids of the runs ended; none when the store does not exist yet."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///") and not Path(store_name(uri)).exists():
        return []
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=use_store())
    ended = []
    for experiment in with_retries(client.search_experiments):
        running = with_retries(client.search_runs, [experiment.experiment_id], "attributes.status = 'RUNNING'")
        for key in {(r.data.tags.get("dvc_stage"), r.data.tags.get("reprozoo.fingerprint")) for r in running}:
            ended += with_retries(end_dead_runs, client, experiment.experiment_id, *key, None)
    return ended


def main() -> None:
    for run_id in end_all_dead_runs():
        print(f"MLflow run {run_id} was left RUNNING by a process that died: ended KILLED")


if __name__ == "__main__":
    run_main(main)
