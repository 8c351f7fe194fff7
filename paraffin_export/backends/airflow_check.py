"""The first task of an exported Airflow DAG: refuse to run a stale DAG.

A DAG file lists the stages and edges its export selected. Run after dvc.yaml
changed, it would run the old graph and succeed without a new stage. So every
stage task waits for one first task (directly, or through its upstream
stages), which asks DVC for the project's graph now and fails, naming what
changed (`drift.changes`) and the export command to run again; Airflow then
marks every stage task upstream_failed and none runs.

Airflow workers need `dvc`, not paraffin-export. The task runs in Airflow's own
Python and calls the `dvc` the stage tasks call (``PARAFFIN_DVC``, else `dvc`
on PATH: a pip install, a standalone binary or a wrapper script alike) as
``dvc dag --mermaid`` in the repo path: every node as `dvc repro` addresses it
from there (``train@1``, ``sub/dvc.yaml:eval``) and every edge. The functions
below, with `drift.selection`, `drift._renames` and `drift.changes`, are copied
verbatim into the DAG file (`backends.airflow.check_source`): standard library
only, and no module-level name but ``os``, ``subprocess`` and the annotations'
(``Collection``, ``Iterable``, ``Sequence``, ``Edge``). Parsing the DAG file
only defines them; the work happens when the task runs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Collection, Sequence

from ..drift import Edge, changes, selection


def read_mermaid(text: str) -> tuple[list[str], list[Edge]]:
    """Nodes and (upstream, downstream) edges of ``dvc dag --mermaid`` output:
    ``\\tnodeN["ADDRESS"]`` and ``\\tnodeA-->nodeB`` lines after ``flowchart TD``.
    DVC writes an address unquoted, so everything between the first ``["``
    and the line's closing ``"]`` is the address; any other line (an address
    holding a line break) is an error, never a silently different graph."""
    lines = text.split("\n")
    if lines[0].rstrip() != "flowchart TD":
        raise ValueError(f"`dvc dag --mermaid` printed {lines[0][:200]!r}, not a flowchart")
    names: dict[str, str] = {}
    links: list[tuple[str, str]] = []
    for line in lines[1:]:
        head, bracket, rest = line.partition('["')
        if bracket and head.startswith("\tnode") and rest.endswith('"]'):
            names[head[1:]] = rest[:-2]
        elif line.startswith("\tnode") and "-->" in line:
            up, _, down = line[1:].partition("-->")
            links.append((up, down))
        elif line.strip():
            raise ValueError(f"unexpected line in `dvc dag --mermaid` output: {line[:200]!r}")
    missing = sorted({n for link in links for n in link if n not in names})
    if missing:
        raise ValueError(f"`dvc dag --mermaid` names no node {missing[0]!r}")
    return list(names.values()), [(names[u], names[d]) for u, d in links]


def stale_dag(
    exported: Sequence[str], exported_edges: Collection[Edge], scope: str, text: str
) -> list[str]:
    """What changed between the exported graph and DVC's now (``text``: the
    output of ``dvc dag --mermaid``), in `drift.changes`' words; [] if nothing."""
    nodes, edges = read_mermaid(text)
    known = set(exported)
    # DVC's graph also holds `dvc add`-tracked data, addressed by its .dvc file:
    # not a stage (a new stage literally named "x.dvc" is not noticed).
    stages = [n for n in nodes if n in known or not n.endswith(".dvc")]
    ours = set(stages)
    edges = [(u, d) for u, d in edges if u in ours and d in ours]
    now = selection(stages, edges, exported, scope)
    return changes(exported, set(exported_edges), now, set(edges))


def check_pipeline(
    exported: Sequence[str],
    exported_edges: Collection[Edge],
    scope: str,
    command: str,
    repo: str,
    dvc: str,
) -> None:
    """Raise when DVC's graph in ``repo`` is not the exported one: the message
    names what changed and ``command``, which exports the file again."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    call = [dvc, "dag", "--mermaid"]
    try:
        proc = subprocess.run(call, cwd=repo, env=env, capture_output=True, check=False)
    except OSError as exc:  # no such dvc, or no such repo path
        raise RuntimeError(f"cannot run `{' '.join(call)}` in {repo}: {exc}") from None
    if proc.returncode != 0:
        said = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"`{' '.join(call)}` failed in {repo} (exit {proc.returncode}): {said}")
    found = stale_dag(exported, exported_edges, scope, proc.stdout.decode("utf-8"))
    if found:
        raise RuntimeError(
            "this Airflow DAG is stale, the DVC pipeline changed since it was exported: "
            + "; ".join(found)
            + f"\n  hint: export it again, from the DVC root: {command}"
        )
    print(f"the DVC pipeline in {repo} is the one exported ({len(exported)} stages)")
