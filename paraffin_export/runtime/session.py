"""DVC's view of a project when a Snakemake run starts: one repo, one lock.

The plan (`snakemake_plan`) needs every stage's status and the edges between
all pipeline stages; the `paraffin` runner's coordinator then keeps the same
repo and stage objects for the whole run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ir import Out
from ..ir import Stage as IRStage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageState:
    """What DVC says about one stage right now."""

    address: str
    changed: bool | None
    frozen: bool
    always_changed: bool


@dataclass
class Session:
    """DVC's view of the project at the start of a run."""

    repo: Any
    stages: dict[str, Any]  # address -> DVC stage, for the stages of this Snakefile
    states: dict[str, StageState]
    edges: set[tuple[str, str]]
    order: tuple[str, ...] = ()  # the addresses of ``stages`` in `dvc repro` order
    addresses: tuple[str, ...] = ()  # every pipeline stage of the project


def open_session(
    root: Path, addresses: Iterable[str], *, keep: bool = False, replay: bool = False
) -> Session:
    """Status of the named stages, and the edges between all pipeline stages,
    from one DVC repo under one repo lock (waiting for a running `dvc`).
    ``replay`` first records what a crashed run journalled; ``keep`` leaves
    the repo open for the run's coordinator."""
    from ..compat import require_supported_dvc

    require_supported_dvc()  # before DVC touches dvc.lock: an untested DVC fails here
    from dvc.repo import Repo, lock_repo

    from ..frontend.load import _quiet_dvc

    wanted = set(addresses)
    if keep:
        from . import rwlock

        rwlock.install()
    with _quiet_dvc():
        repo = Repo(os.fspath(root), _wait_for_lock=True)
        try:
            # DVC's reentrant lock: DVC methods called inside lock it again
            with lock_repo(repo):
                pipeline_stages = _pipeline_stages(repo, root)
                mine = {a: st for a, st in pipeline_stages.items() if a in wanted}
                order = repro_order(repo, mine) if keep else tuple(mine)
                dropped: list[str] = []
                if replay:
                    from .coordinator import replay_journal

                    dropped = replay_journal(root, {a: mine[a] for a in order})
                with _read_locked(repo, mine.values()):
                    states = {address: _state(address, st) for address, st in mine.items()}
                _report_dropped(dropped, states)
                edges = _edges(root, pipeline_stages)
        except BaseException:
            repo.close()
            raise
    if not keep:
        repo.close()
    return Session(repo, mine, states, edges, order, tuple(pipeline_stages))


def repro_order(repo: Any, stages: Mapping[str, Any]) -> tuple[str, ...]:
    """The addresses of ``stages`` in the order `dvc repro --all-pipelines`
    reproduces them, so dumps its `dvc.lock` entries and `.gitignore` lines:
    DVC's own plan (`plan_repro` on its active graph) over DVC's graph."""
    from dvc.repo.reproduce import get_active_graph, plan_repro

    address = {id(st): a for a, st in stages.items()}
    steps = plan_repro(get_active_graph(_dvc_graph(repo.index.stages)))
    return tuple(address[id(st)] for st in steps if id(st) in address)


def _dvc_graph(stages: list[Any]) -> Any:
    """`dvc.repo.graph.build_graph`, nodes and edges inserted in the same order
    (which orders DVC's plan), without its cycle check: quadratic on long
    chains, and the export checked the graph already."""
    import networkx as nx
    from dvc.dependency import DatasetDependency
    from dvc.repo.trie import build_outs_trie

    trie = build_outs_trie(stages)
    graph = nx.DiGraph()
    graph.add_nodes_from(stages)
    for stage in stages:
        if stage.is_repo_import or stage.is_db_import:
            continue
        for dep in stage.deps:
            if isinstance(dep, DatasetDependency):
                continue
            key = dep.fs.parts(dep.fs_path)
            overlapping = [n.value for n in trie.prefixes(key)]
            if trie.has_subtrie(key):
                overlapping.extend(trie.values(prefix=key))
            graph.add_edges_from((stage, out.stage) for out in overlapping)
    return graph


def _report_dropped(dropped: list[str], states: Mapping[str, StageState]) -> None:
    """What becomes of journal entries the replay could not record, as DVC
    now sees their stages."""
    for address in dropped:
        state = states.get(address)
        if state is None:
            why = "dropped its journal entry: not a stage of this run"
        elif state.changed is False:
            why = "dropped its journal entry: DVC finds it up to date"
        else:
            why = "changed since its job finished; it runs again"
        log.warning("paraffin: %s %s", address, why)


def _read_locked(repo: Any, stages: Iterable[Any]) -> Any:
    """One read lock on every dep and out, as `Stage.status` takes per stage
    (DVC's rwlock: a stage being written by a running `dvc repro` is busy).
    One lock file edit instead of two per stage: on 1,000 stages this is
    about 40% of what `dvc status` spends."""
    from dvc.dependency.db import AbstractDependency
    from dvc.dependency.repo import RepoDependency
    from dvc.rwlock import rwlock

    paths = [
        item.fs_path
        for st in stages
        for item in (*st.deps, *st.outs)
        if not isinstance(item, RepoDependency | AbstractDependency)
    ]
    hardlink = repo.config["core"].get("hardlink_lock", False)
    return rwlock(repo.tmp_dir, repo.fs, "paraffin: snakemake plan", paths, [], hardlink)


def _pipeline_stages(repo: Any, root: Path) -> dict[str, Any]:
    from dvc.stage import PipelineStage

    out = {}
    for st in repo.index.stages:
        if isinstance(st, PipelineStage):
            dvcfile = Path(st.path_in_repo).as_posix()
            out[st.name if dvcfile == "dvc.yaml" else f"{dvcfile}:{st.name}"] = st
    return out


def _state(address: str, st: Any) -> StageState:
    # `Stage.status` without its own per-stage rwlock: `_read_locked` holds it
    status = getattr(type(st).status, "__wrapped__", type(st).status)
    try:
        changed: bool | None = bool(status(st))
    except Exception as exc:  # noqa: BLE001 - unknown status: the job's own DVC decides
        log.warning("cannot compute the status of %s: %s", address, exc)
        changed = None
    return StageState(address, changed, bool(st.frozen), bool(st.always_changed))


def _edges(root: Path, stages: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Edges exactly as the exporting frontend computes them."""
    from dvc.dependency import ParamsDependency

    from ..frontend.graph import build_edges, check_outputs
    from ..frontend.load import _dep_path, _out

    light = [
        IRStage(
            address=address,
            name=address,
            dvcfile="",
            wdir="",
            cmd=(),
            deps=tuple(_dep_path(root, d) for d in st.deps if not isinstance(d, ParamsDependency)),
            outs=tuple(Out(_out(root, o).path) for o in st.outs),
        )
        for address, st in stages.items()
    ]
    return build_edges(light, check_outputs(light, (), ()))
