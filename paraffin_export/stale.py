"""`paraffin stale`: which stages a `dvc repro` of the whole project would run now.

The SLURM submit script asks this at submit time, once, instead of running one
DVC process per stage. The rule is `staleness.stale_addresses`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TextIO

from .errors import ProjectError
from .frontend import load_pipeline
from .ir import Pipeline
from .staleness import stale_addresses

log = logging.getLogger(__name__)
# DVC's LockError text (dvc/lock.py), as the frontend passes it on.
LOCK_BUSY = "Unable to acquire lock"


def stale_or_none(pipeline: Pipeline) -> frozenset[str] | None:
    """`stale_addresses` as a set, or None when the pipeline was loaded
    without DVC's status (every ``changed`` is None): then nothing is known."""
    if all(stage.changed is None for stage in pipeline.stages):
        return None
    return frozenset(stale_addresses(pipeline.stages, pipeline.upstream))


def print_stale(start: Path, stdout: TextIO, *, null: bool = False) -> int:
    """Write the stale addresses, one per line (NUL-terminated with ``null``:
    DVC stage names may contain newlines). Exit code 0."""
    pipeline = _load_waiting(start)
    end = "\0" if null else "\n"
    for address in stale_addresses(pipeline.stages, pipeline.upstream):
        stdout.write(address + end)
    return 0


def _load_waiting(start: Path, attempts: int = 20) -> Pipeline:
    """Load with status, retrying while running jobs hold DVC's repo lock (DVC
    itself gives up after ~3 s; jobs hold it for a moment per stage)."""
    for attempt in range(attempts):
        try:
            return load_pipeline(start, status=True)
        except ProjectError as exc:
            if LOCK_BUSY not in exc.message or attempt == attempts - 1:
                raise
            log.info("DVC repo lock busy, retrying")
    raise AssertionError("unreachable")  # pragma: no cover
