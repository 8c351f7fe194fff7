"""A generated workflow against the DVC project it was exported from.

A Snakefile, SLURM submit script or Airflow DAG lists the stages and edges
the export selected. Run after dvc.yaml changed, it would run the old graph:
a new stage would never run, yet the run would succeed. So before any job the
workflow compares its graph with what the same export would select now and
refuses with what changed and the export command to run again.

What "the same export would select now", from the export's scope:
  all         every pipeline stage of the project (an export without targets)
  upstream    the exported stages still in the project, and everything
              upstream of them now (targets with their upstream, the default)
  downstream  the same, downstream
  single      the exported stages still in the project (--single-item)
A target glob or group that would now match a new stage that is neither
upstream nor downstream of an exported one is not noticed: re-export after
adding stages to a targeted export.

`selection`, `_renames` and `changes` are copied verbatim into every Airflow
DAG file (its first task runs them where paraffin may not be installed,
`backends/airflow_check.py`): keep them standard-library only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from .errors import ProjectError

SCOPES = ("all", "upstream", "downstream", "single")
Edge = tuple[str, str]


def selection(
    addresses: Iterable[str], edges: Iterable[Edge], exported: Collection[str], scope: str
) -> set[str]:
    """The stages the export would select now."""
    now = set(addresses)
    if scope == "all":
        return now
    chosen = {a for a in exported if a in now}
    if scope == "single":
        return chosen
    step: dict[str, list[str]] = {}
    for up, down in edges:
        src, dst = (down, up) if scope == "upstream" else (up, down)
        step.setdefault(src, []).append(dst)
    todo = list(chosen)
    while todo:
        for nxt in step.get(todo.pop(), ()):
            if nxt not in chosen:
                chosen.add(nxt)
                todo.append(nxt)
    return chosen


def changes(
    old: Sequence[str],
    old_edges: Collection[Edge],
    new: Collection[str],
    new_edges: Collection[Edge],
) -> list[str]:
    """What changed, in words: stages added, removed or renamed, edges changed."""
    new_edges = {(u, d) for u, d in new_edges if u in new and d in new}
    removed = [a for a in old if a not in new]
    known = set(old)  # once: not per stage (20,000 stages)
    added = sorted(a for a in new if a not in known)
    renamed = _renames(removed, added, set(old_edges), new_edges)
    rename = dict(renamed)
    out = [f"stage '{a}' renamed to '{b}'" for a, b in renamed]
    out += [f"stage '{a}' added" for a in added if a not in rename.values()]
    out += [f"stage '{a}' removed" for a in removed if a not in rename]
    # edges between stages on both sides: those of added or removed stages go with them
    kept = {rename.get(a, a) for a in old if a in new or a in rename}
    then = {(rename.get(u, u), rename.get(d, d)) for u, d in old_edges}
    then = {(u, d) for u, d in then if u in kept and d in kept}
    now = {(u, d) for u, d in new_edges if u in kept and d in kept}
    out += [f"edge '{u}' -> '{d}' added" for u, d in sorted(now - then)]
    out += [f"edge '{u}' -> '{d}' removed" for u, d in sorted(then - now)]
    return out


def _renames(
    removed: list[str], added: list[str], old_edges: set[Edge], new_edges: set[Edge]
) -> list[tuple[str, str]]:
    """A removed and an added stage with the same neighbours: most likely a rename."""

    def around(stage: str, edges: set[Edge]) -> tuple[frozenset[str], frozenset[str]]:
        ups = frozenset(u for u, d in edges if d == stage)
        return ups, frozenset(d for u, d in edges if u == stage)

    pairs, free = [], list(added)
    for gone in removed:
        for new in free:
            if around(gone, old_edges) == around(new, new_edges):
                pairs.append((gone, new))
                free.remove(new)
                break
    return pairs


def check(
    what: str,
    old: Sequence[str],
    old_edges: Collection[Edge],
    new: Collection[str],
    new_edges: Collection[Edge],
    command: str,
) -> None:
    """Raise when the graph changed: ``what`` names the generated file."""
    found = changes(old, old_edges, new, new_edges)
    if found:
        raise ProjectError(
            f"{what} is stale, the DVC pipeline changed since it was exported: " + "; ".join(found),
            hint=f"export it again, from the DVC root: {command}",
        )
