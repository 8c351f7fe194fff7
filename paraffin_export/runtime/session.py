"""DVC's view of a project when a Snakemake run starts: one repo, one lock.

The plan (`plan`) needs every stage's status and the edges between all
pipeline stages; the `paraffin` runner's coordinator then keeps the same repo
and stage objects for the whole run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import dvc_adapter as dvc
from ..graph import links, owners
from ..staleness import StageStatus


@dataclass
class Session:
    """DVC's view of the project at the start of a run."""

    repo: Any
    stages: dict[str, Any]  # address -> DVC stage, for the stages of this Snakefile
    states: dict[str, StageStatus]
    edges: set[tuple[str, str]]


def open_session(
    root: Path, addresses: Iterable[str], *, keep: bool = False, replay: bool = False
) -> Session:
    """Status of the named stages, and the edges between all pipeline stages,
    from one DVC repo under one repo lock (waiting for a running `dvc`).
    ``replay`` first records what a crashed run journalled; ``keep`` leaves
    the repo open for the run's coordinator."""
    from dvc.repo import Repo, lock_repo

    wanted = set(addresses)
    if keep:
        from . import rwlock

        rwlock.install()
    with dvc.quiet_dvc():
        repo = Repo(os.fspath(root), _wait_for_lock=True)
        try:
            # DVC's reentrant lock: DVC methods called inside lock it again
            with lock_repo(repo):
                pipeline_stages = dvc.pipeline_stages(repo)
                mine = {a: st for a, st in pipeline_stages.items() if a in wanted}
                if replay:
                    from .journal import replay as replay_journal

                    replay_journal(root, mine)
                changed = dvc.statuses(repo, mine, "paraffin: snakemake plan")
                states = {a: _status(a, st, changed[a]) for a, st in mine.items()}
                edges = _edges(root, pipeline_stages)
        except BaseException:
            repo.close()
            raise
    if not keep:
        repo.close()
    return Session(repo, mine, states, edges)


def _status(address: str, stage: Any, changed: bool | None) -> StageStatus:
    return StageStatus(address, changed, bool(stage.frozen), bool(stage.always_changed))


def _edges(root: Path, stages: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Edges exactly as the exporting frontend computes them (`graph`)."""
    outs = [(dvc.out_of(root, o).path, a) for a, st in stages.items() for o in st.outs]
    deps = {a: dvc.path_deps(root, st) for a, st in stages.items()}
    return links(deps, owners(outs, (), ()))
