"""`paraffin stale`: which stages a `dvc repro` of the whole project would run now.

The SLURM submit script asks this at submit time, once, instead of running one
DVC process per stage. The rule is `staleness.stale_addresses`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TextIO

from . import drift
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


def print_stale(
    start: Path, stdout: TextIO, *, null: bool = False, expect: str | None = None
) -> int:
    """Write the stale addresses, one per line (NUL-terminated with ``null``:
    DVC stage names may contain newlines). Exit code 0. ``expect``: the graph
    a SLURM submit script was exported with; refuse when the project's differs."""
    pipeline = with_status(start)
    if expect:
        check_expected(pipeline, expect)
    end = "\0" if null else "\n"
    for address in stale_addresses(pipeline.stages, pipeline.upstream):
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


def check_expected(pipeline: Pipeline, expect: str) -> None:
    """Raise when ``pipeline`` is not the graph a submit script was exported with."""
    try:
        doc = json.loads(expect)
        old = [str(a) for a in doc["stages"]]
        old_edges = {(old[u], old[d]) for u, d in doc["edges"]}
        scope, command = str(doc["scope"]), str(doc["command"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProjectError(f"--expect: not an exported graph ({exc})") from None
    addresses = [s.address for s in pipeline.stages]
    now = drift.selection(addresses, pipeline.edges, old, scope)
    what = "this SLURM submit script"
    drift.check(what, old, old_edges, now, set(pipeline.edges), command)


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
