"""The process a run belongs to: Snakemake's main process.

The coordinator works in a process of its own (`coordproc`) that lives and
dies with Snakemake's, so every pid a run leaves for others to check (the
token and heartbeat jobs watch, DVC's rwlock entries, the run lock, staging
folders) is Snakemake's: a killed run is judged by the process its user
started, and a coordinator left a zombie (a container whose first process
reaps no orphans) never passes for a live run.
"""

from __future__ import annotations

import os
import sys

_OWNER: tuple[int, str] | None = None


def adopt(pid: int, cmd: str) -> None:
    """In the coordinator's process: the run is Snakemake's ``pid``, started as ``cmd``."""
    global _OWNER
    _OWNER = (pid, cmd)


def pid() -> int:
    return _OWNER[0] if _OWNER else os.getpid()


def cmd() -> str:
    """The owner's command line, as DVC names a lock's holder."""
    return _OWNER[1] if _OWNER else " ".join(sys.argv)
