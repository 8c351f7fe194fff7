"""`paraffin stale`: which stages a `dvc repro` of the whole project would run now.

The SLURM submit script asks this at submit time, once, instead of running one
DVC process per stage. A stage is stale when DVC's own status reports it
changed (or cannot tell), when it is ``always_changed``, or when any stage
upstream of it is stale. Staleness does not flow through a ``frozen`` stage:
`dvc repro` never runs its command. A frozen stage is stale only when its own
status is not clean (its outputs changed, or no lock entry yet): `dvc repro`
then verifies its outputs and records them in `dvc.lock`, and so must a job.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TextIO

from .errors import ProjectError
from .frontend import load_pipeline
from .ir import Pipeline

log = logging.getLogger(__name__)
# DVC's LockError text (dvc/lock.py), as the frontend passes it on.
LOCK_BUSY = "Unable to acquire lock"


def stale_addresses(pipeline: Pipeline) -> tuple[str, ...]:
    """Stale addresses in pipeline (topological) order; ``changed is None``
    (status unknown) counts as stale: the job's own `dvc repro` decides then."""
    stale: set[str] = set()
    frozen: set[str] = set()
    for stage in pipeline.stages:
        own = stage.always_changed or stage.changed is not False
        if stage.frozen:
            if stage.changed is not False:
                frozen.add(stage.address)
            continue
        if own or any(up in stale for up in pipeline.upstream(stage.address)):
            stale.add(stage.address)
    stale |= frozen
    return tuple(s.address for s in pipeline.stages if s.address in stale)


def stale_or_none(pipeline: Pipeline) -> frozenset[str] | None:
    """`stale_addresses` as a set, or None when the pipeline was loaded
    without DVC's status (every ``changed`` is None): then nothing is known."""
    if all(stage.changed is None for stage in pipeline.stages):
        return None
    return frozenset(stale_addresses(pipeline))


def print_stale(start: Path, stdout: TextIO, *, null: bool = False) -> int:
    """Write the stale addresses, one per line (NUL-terminated with ``null``:
    DVC stage names may contain newlines). Exit code 0."""
    pipeline = with_status(start)
    end = "\0" if null else "\n"
    for address in stale_addresses(pipeline):
        stdout.write(address + end)
    return 0


def with_status(start: Path) -> Pipeline:
    """The pipeline with DVC's status of every stage: from the status cache
    when nothing changed since DVC last said so (`statuscache`), else from
    DVC (and then recorded for next time)."""
    from . import statuscache
    from .frontend import find_root

    root = find_root(start)
    known = statuscache.lookup(root)
    if known is not None:
        return known
    before = statuscache.observe(root)
    pipeline = _load_waiting(start)
    statuscache.record(root, pipeline, before)
    return pipeline


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
