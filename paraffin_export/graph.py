"""Edges from output/dependency path overlap, in linear time.

DVC's own graph (``index.graph``) checks acyclicity with a search that is
quadratic on long chains, so we build the same edges ourselves: a dependency
``d`` of stage B depends on stage A when an output ``o`` of A equals ``d``,
contains it (``d`` inside directory ``o``) or lies inside it (``o`` inside
directory ``d``). The frontend applies this to the IR's stages, the runtime
to DVC's own (`owners`, `links`, `order` take plain addresses and paths).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from .errors import CycleError, OutputConflictError
from .ir import Stage


def _ancestors(path: str) -> Iterable[str]:
    """Proper ancestor directories of a POSIX path, nearest first."""
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


def _is_local(path: str) -> bool:
    return "://" not in path


def check_outputs(
    stages: Sequence[Stage], tracked_outs: Sequence[tuple[str, str]], dvcfiles: Sequence[str]
) -> dict[str, str]:
    """`owners` of the stages' outputs."""
    outs = [(o.path, s.address) for s in stages for o in s.outs]
    return owners(outs, tracked_outs, dvcfiles)


def owners(
    outs: Iterable[tuple[str, str]],
    tracked_outs: Sequence[tuple[str, str]],
    dvcfiles: Sequence[str],
) -> dict[str, str]:
    """Map each output path to its owner's address (``outs``: (path, address)
    pairs); raise on duplicates and overlaps exactly where DVC would."""
    owner: dict[str, str] = {}
    entries = [(path, address) for path, address in outs if _is_local(path)]
    entries += [(path, f"'{dvcfile}'") for path, dvcfile in tracked_outs]
    for path, address in entries:
        if path in owner:
            raise OutputConflictError(
                f"output '{path}' is written by both '{owner[path]}' and '{address}'",
                stage=address,
            )
        owner[path] = address
    for path, address in entries:
        for parent in _ancestors(path):
            if parent in owner:
                raise OutputConflictError(
                    f"output '{path}' of '{address}' lies inside output '{parent}' "
                    f"of '{owner[parent]}'",
                    stage=address,
                )
    for dvcfile in dvcfiles:
        for parent in _ancestors(dvcfile):
            if parent in owner:
                raise OutputConflictError(
                    f"'{dvcfile}' lies inside output '{parent}' of '{owner[parent]}'",
                    file=dvcfile,
                )
    return owner


def build_edges(stages: Sequence[Stage], owner: dict[str, str]) -> set[tuple[str, str]]:
    """`links` between the stages."""
    return links({s.address: s.deps for s in stages}, owner)


def links(deps: dict[str, Sequence[str]], owner: dict[str, str]) -> set[tuple[str, str]]:
    """(upstream, downstream) pairs, from ``deps`` (address -> dependency
    paths) and `owners`; self-edges are kept so cycles see them."""
    below: dict[str, set[str]] = {}
    for path, address in owner.items():
        for parent in _ancestors(path):
            below.setdefault(parent, set()).add(address)
    edges: set[tuple[str, str]] = set()
    for address, paths in deps.items():
        for dep in paths:
            if not _is_local(dep):
                continue
            ups = set(below.get(dep, ()))
            for candidate in (dep, *_ancestors(dep)):
                if candidate in owner:
                    ups.add(owner[candidate])
            edges.update((up, address) for up in ups if up in deps)
    return edges


def topological_order(stages: Sequence[Stage], edges: set[tuple[str, str]]) -> list[Stage]:
    """The stages in `order`."""
    by_address = {s.address: s for s in stages}
    return [by_address[a] for a in order([s.address for s in stages], edges)]


def order(addresses: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """Kahn's algorithm, ties broken by the given order, so the result is stable."""
    index = {a: i for i, a in enumerate(addresses)}
    indegree = [0] * len(addresses)
    down: list[list[int]] = [[] for _ in addresses]
    for up, dn in edges:
        down[index[up]].append(index[dn])
        indegree[index[dn]] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    ordered: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        ordered.append(i)
        for j in down[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                heapq.heappush(ready, j)
    if len(ordered) < len(addresses):
        left = {i for i, d in enumerate(indegree) if d > 0}
        raise CycleError([addresses[i] for i in _find_cycle(left, down)])
    return [addresses[i] for i in ordered]


def _find_cycle(nodes: set[int], down: list[list[int]]) -> list[int]:
    """A cycle among nodes Kahn could not order. Every such node has an
    in-edge from another such node, so walking those in-edges backwards must
    revisit a node: linear in the edges."""
    up: dict[int, int] = {}
    for i in sorted(nodes):
        for j in down[i]:
            if j in nodes:
                up.setdefault(j, i)
    start = min(nodes)
    seen: dict[int, int] = {}
    walk: list[int] = []
    node = start
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = up[node]
    cycle = walk[seen[node] :]
    cycle.reverse()
    return cycle
