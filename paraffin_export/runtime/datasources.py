"""The `.dvc` stages (`dvc add`-ed data, imports) a run verifies first, as `dvc repro` does.

`dvc repro` walks DVC's graph of the stages it reproduces, data-source
stages upstream included ("Verifying data sources in stage:
'data.txt.dvc'"): a changed one (its data edited, or its object not in the
cache) is saved and committed to the cache and its `.dvc` file rewritten
(`Stage.reproduce` -> `run`: `_check_missing_outputs`, `save`, `commit`;
then `stage.dump`). A `dvc import` stage is frozen: only its outputs are
verified. The paraffin runner's jobs run only pipeline commands, so the plan
does this once, in the main Snakemake process, under DVC's repo lock, before
any job: through DVC's own `Stage.reproduce`, which takes DVC's rwlock on
the stage's paths as `dvc repro` does. A dry run only says what would be.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ProjectError
from .report import log_line


def upstream_sources(graph: Any, stages: Iterable[Any]) -> list[tuple[Any, list[Any]]]:
    """The `.dvc` stages `dvc repro` of ``stages`` visits (what DVC's active
    ``graph`` reaches from them; edges point to dependencies), in the graph's
    order, each with the stages right above it. One walk for all: DVC's
    `plan_repro` walks once per target, quadratic on a long selected chain."""
    from dvc.stage import PipelineStage

    if all(isinstance(st, PipelineStage) for st in graph):
        return []  # no `.dvc` file in the project: nothing to walk for
    todo = list(stages)
    reached = set(todo)
    while todo:
        for up in graph.successors(todo.pop()):
            if up not in reached:
                reached.add(up)
                todo.append(up)
    found = [st for st in graph if st in reached and not isinstance(st, PipelineStage)]
    return [(st, list(graph.successors(st))) for st in found]


def verify(sources: list[tuple[Any, list[Any]]], *, dry: bool) -> list[str]:
    """`dvc repro`'s step for each changed source (`Stage.reproduce` past its
    `changed()` check, then `stage.dump`): DVC saves, commits and dumps it;
    unchanged ones are left alone (nothing written). The changed ones'
    addresses."""
    changed = []
    for stage, upstream in sources:
        if not stage.changed(upstream=upstream):
            continue  # DVC: "'data.txt.dvc' didn't change, skipping"
        changed.append(stage.addressing)
        if dry:
            log_line(f"paraffin: dry run: would verify {_what(stage)} {stage}")
            continue
        log_line(f"paraffin: Verifying {_what(stage)} {stage}")  # DVC's words
        _run(stage)
        log_line(f"paraffin: saved '{stage.addressing}' (its data committed to the cache)")
    return changed


def _run(stage: Any) -> None:
    """DVC's own check of outputs, save and commit (under its rwlock), then
    the `.dvc` file; DVC's failure as `dvc repro` words it."""
    from dvc.exceptions import DvcException

    try:
        stage.run()
    except DvcException as exc:
        raise ProjectError(
            f"failed to reproduce '{stage.addressing}': {exc}",
            hint="restore the data (`dvc checkout`, `dvc pull`) or `dvc remove` its .dvc file",
        ) from None
    stage.dump(update_pipeline=False)


def _what(stage: Any) -> str:
    """DVC's words (`Stage.run`)."""
    return "outputs in frozen" if stage.frozen else "data sources in"
