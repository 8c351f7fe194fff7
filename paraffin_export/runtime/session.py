"""DVC's view of a project when a Snakemake run starts: one repo, one lock.

The plan (`plan`) needs every stage's status and the edges between all
pipeline stages; the `paraffin` runner's coordinator then keeps the same repo
and stage objects for the whole run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import dvc_adapter as dvc
from .. import dvcreads
from ..graph import links, owners
from ..graph import order as topological
from ..staleness import StageStatus

log = logging.getLogger(__name__)


@dataclass
class Session:
    """DVC's view of the project at the start of a run."""

    repo: Any
    stages: dict[str, Any]  # address -> DVC stage, for the stages of this Snakefile
    states: dict[str, StageStatus]
    edges: set[tuple[str, str]]
    order: tuple[str, ...] = ()  # the addresses of ``stages`` in `dvc repro` order
    addresses: tuple[str, ...] = ()  # every pipeline stage of the project
    sources: tuple[str, ...] = ()  # `.dvc` stages upstream that changed (`datasources`)


def open_session(
    root: Path,
    addresses: Iterable[str],
    *,
    keep: bool = False,
    replay: bool = False,
    upstream: Mapping[str, Sequence[str]] | None = None,
) -> Session:
    """Status of the named stages, and the edges between all pipeline stages,
    from one DVC repo under one repo lock (waiting for a running `dvc`).
    ``replay`` first records what a crashed run journalled; ``keep`` leaves
    the repo open for the run's coordinator and verifies the data sources
    upstream as `dvc repro` does (`datasources`; a dry run, without
    ``replay``, only says which). ``upstream`` (address -> the addresses
    right above it, as the Snakefile runs them): DVC is not asked about a
    stage below a stale one (`StageStatus.below`)."""
    from ..compat import require_supported_dvc

    require_supported_dvc()  # before DVC touches dvc.lock: an untested DVC fails here
    from dvc.repo import Repo, lock_repo

    wanted = set(addresses)
    if keep:
        from . import rwlock

        rwlock.install()
    dvcreads.install()
    with dvc.quiet_dvc():
        repo = Repo(os.fspath(root), _wait_for_lock=True)
        try:
            # DVC's reentrant lock: DVC methods called inside lock it again
            with lock_repo(repo):
                pipeline_stages = dvc.pipeline_stages(repo)
                mine = {a: st for a, st in pipeline_stages.items() if a in wanted}
                order, sources = tuple(mine), []
                if keep:
                    graph = _active_graph(repo)
                    order = repro_order(graph, mine)
                    sources = _verify_sources(graph, mine, order, dry=not replay)
                dropped: list[str] = []
                if replay:
                    from .journal import replay as replay_journal

                    dropped = replay_journal(root, {a: mine[a] for a in order})
                changed = _statuses(repo, mine, upstream)
                states = {a: _status(a, st, changed) for a, st in mine.items()}
                _report_dropped(dropped, states)
                edges = _edges(root, pipeline_stages)
        except BaseException:
            repo.close()
            raise
    if not keep:
        repo.close()
    return Session(repo, mine, states, edges, order, tuple(pipeline_stages), tuple(sources))


def _active_graph(repo: Any) -> Any:
    """DVC's graph as `dvc repro` plans on it (frozen stages cut off)."""
    from dvc.repo.reproduce import get_active_graph

    return get_active_graph(_dvc_graph(repo.index.stages))


def repro_order(graph: Any, stages: Mapping[str, Any]) -> tuple[str, ...]:
    """The addresses of ``stages`` in the order `dvc repro --all-pipelines`
    reproduces them, so dumps its `dvc.lock` entries and `.gitignore` lines:
    DVC's own plan (`plan_repro`) over its active graph (`_active_graph`)."""
    from dvc.repo.reproduce import plan_repro

    address = {id(st): a for a, st in stages.items()}
    steps = plan_repro(graph)
    return tuple(address[id(st)] for st in steps if id(st) in address)


def _verify_sources(
    graph: Any, stages: Mapping[str, Any], order: tuple[str, ...], *, dry: bool
) -> list[str]:
    """`datasources.verify` of the `.dvc` stages upstream of ``stages``."""
    from . import datasources

    upstream = datasources.upstream_sources(graph, [stages[a] for a in order])
    return datasources.verify(upstream, dry=dry)


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


def _report_dropped(dropped: list[str], states: Mapping[str, StageStatus]) -> None:
    """What becomes of journal entries the replay could not record, as DVC
    now sees their stages."""
    for address in dropped:
        state = states.get(address)
        if state is None:
            why = "dropped its journal entry: not a stage of this run"
        elif state.changed is False:
            why = "dropped its journal entry: DVC finds it up to date"
        elif state.below:
            why = "dropped its journal entry: a stage above it runs again, and so does it"
        else:
            why = "changed since its job finished; it runs again"
        log.warning("paraffin: %s %s", address, why)


def _statuses(
    repo: Any, stages: dict[str, Any], upstream: Mapping[str, Sequence[str]] | None
) -> dict[str, bool | None]:
    holder = "paraffin: snakemake plan"
    if upstream is None:
        return dvc.statuses(repo, stages, holder)
    above = {a: [u for u in upstream.get(a, ()) if u in stages] for a in stages}
    ordered = topological(list(stages), [(u, a) for a, ups in above.items() for u in ups])
    return dvc.statuses(repo, {a: stages[a] for a in ordered}, holder, above.__getitem__)


def _status(address: str, stage: Any, changed: Mapping[str, bool | None]) -> StageStatus:
    frozen, always = bool(stage.frozen), bool(stage.always_changed)
    if address not in changed:
        return StageStatus(address, None, frozen, always, below=True)
    return StageStatus(address, changed[address], frozen, always)


def _edges(root: Path, stages: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Edges exactly as the exporting frontend computes them (`graph`)."""
    outs = [(dvc.out_of(root, o).path, a) for a, st in stages.items() for o in st.outs]
    deps = {a: dvc.path_deps(root, st) for a, st in stages.items()}
    return links(deps, owners(outs, (), ()))
