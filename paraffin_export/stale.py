"""`paraffin stale`: which stages a `dvc repro` of the whole project would run now.

The SLURM submit script asks this at submit time, once, instead of running one
DVC process per stage. A stage is stale when DVC's own status reports it
changed (or cannot tell), when it is ``always_changed``, or when any stage
upstream of it is stale; a ``frozen`` stage never is, and its staleness does
not flow past it, exactly as `dvc repro` skips frozen stages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from .frontend import load_pipeline
from .ir import Pipeline


def stale_addresses(pipeline: Pipeline) -> tuple[str, ...]:
    """Stale addresses in pipeline (topological) order; ``changed is None``
    (status unknown) counts as stale: the job's own `dvc repro` decides then."""
    stale: set[str] = set()
    for stage in pipeline.stages:
        if stage.frozen:
            continue
        upstream_stale = any(up in stale for up in pipeline.upstream(stage.address))
        if stage.always_changed or stage.changed is not False or upstream_stale:
            stale.add(stage.address)
    return tuple(s.address for s in pipeline.stages if s.address in stale)


def print_stale(start: Path, stdout: TextIO, *, null: bool = False) -> int:
    """Write the stale addresses, one per line (NUL-terminated with ``null``:
    DVC stage names may contain newlines). Exit code 0."""
    pipeline = load_pipeline(start, status=True)
    end = "\0" if null else "\n"
    for address in stale_addresses(pipeline):
        stdout.write(address + end)
    return 0
