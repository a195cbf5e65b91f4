"""Which process owns a RUNNING MLflow run, so a run whose process died is found, not guessed.

A run started here is tagged with its host (name and boot id), pid and the process's start time (the kernel's, so a
reused pid is not mistaken for the owner). When a stage starts, a RUNNING run of the same stage and
params whose owner on this host is gone (kill -9, the OOM killer, a power cut) is ended KILLED with
a tag saying why, unless the stage resumes into it. A run owned by a live process, such as a
parallel `dvc queue start -j 2` worker, or by another host, is never touched.
"""

from __future__ import annotations

import os
import socket
from typing import Any

HOST, BOOT, PID, START = "reprozoo.owner_host", "reprozoo.owner_boot", "reprozoo.owner_pid", "reprozoo.owner_start"


def boot_id() -> str:
    """This boot of this machine: two machines of a team may share a hostname (containers, cloned VMs)."""
    try:
        return open("/proc/sys/kernel/random/boot_id").read().strip()
    except OSError:
        return ""


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat, field 22); None if it is gone."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # fields after the command name, which may hold spaces


def owner_tags() -> dict[str, str]:
    """This process, as the owner of the runs it starts."""
    return {HOST: socket.gethostname(), BOOT: boot_id(), PID: str(os.getpid()), START: start_time(os.getpid()) or ""}


def owner_alive(tags: dict[str, str]) -> bool | None:
    """True if the run's owner still runs, False if it is gone, None if that cannot be told from here."""
    if tags.get(HOST) != socket.gethostname() or not tags.get(PID, "").isdigit():
        return None  # another machine's run (a team's server holds every member's): never judged from here
    if BOOT in tags and tags[BOOT] != boot_id():
        return None  # the same name, another machine (or this one before a reboot: then the sweep cannot tell)
    return start_time(int(tags[PID])) == tags.get(START) and bool(tags.get(START))


def end_dead_runs(client: Any, experiment_id: str, stage: str, fingerprint: str, keep: str | None) -> list[str]:
    """End KILLED every RUNNING run of `stage` with these params whose owner is gone (but `keep`); their ids."""
    ended = []
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        if run.info.run_id == keep or tags.get("dvc_stage") != stage or tags.get("reprozoo.fingerprint") != fingerprint:
            continue
        if owner_alive(tags) is False:
            client.set_tag(run.info.run_id, "reprozoo.killed_reason",
                           f"its process (pid {tags.get(PID)} on {tags.get(HOST)}) ended without ending the run; "
                           f"found by pid {os.getpid()}")
            client.set_terminated(run.info.run_id, "KILLED")
            ended.append(run.info.run_id)
    return ended
