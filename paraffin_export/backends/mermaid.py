"""`mermaid`: the stage DAG, or the predecessor's "what can run in parallel" levels."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BackendError
from ..ir import Pipeline, Stage
from ..naming import make_identifiers
from ..render import render_template
from ..stale import stale_or_none
from ..staleness import own_stale
from .base import ExportOptions, Rendered

VIEWS = ("dag", "levels")


@dataclass
class Cluster:
    id: str
    label: str
    nodes: list[str] = field(default_factory=list)
    children: list[Cluster] = field(default_factory=list)


def label(text: str) -> str:
    """A quoted mermaid label showing ``text`` literally: mermaid reads entity
    codes (``#quot;``) inside quotes, and backticks would start markdown."""
    out = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        # mermaid trims labels: keep edge whitespace as entity codes
        edge_space = (i == 0 or i == last) and (ch.isspace() or ch == "\ufeff")
        if edge_space or ch in '"#<>&`\\{}[]|' or ch in "\n\r\t":
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def node_ids(pipeline: Pipeline) -> dict[str, str]:
    # The "s_" prefix keeps ids clear of mermaid keywords (end, graph, class...)
    # and of the o/x edge-head letters.
    idents = make_identifiers(a for a in pipeline.by_address)
    return {a: f"s_{i}" for a, i in idents.items()}


def levels(pipeline: Pipeline) -> list[list[list[Stage]]]:
    """Per weakly connected component, stages by longest-path level."""
    component: dict[str, int] = {}
    parent = {s.address: s.address for s in pipeline.stages}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for up, down in pipeline.edges:
        parent[find(up)] = find(down)
    depth: dict[str, int] = {}
    result: list[list[list[Stage]]] = []
    for stage in pipeline.stages:
        depth[stage.address] = 1 + max(
            (depth[u] for u in pipeline.upstream(stage.address)), default=-1
        )
        comp = component.setdefault(find(stage.address), len(component))
        if comp == len(result):
            result.append([])
        while len(result[comp]) <= depth[stage.address]:
            result[comp].append([])
        result[comp][depth[stage.address]].append(stage)
    return result


class MermaidBackend:
    name = "mermaid"
    help = "a mermaid flowchart: the DAG, or levels of what can run in parallel"
    options = frozenset({"view", "md"})

    def output_name(self, pipeline: Pipeline, options: ExportOptions) -> str:
        return "pipeline.md" if options.md else "pipeline.mmd"

    def render(self, pipeline: Pipeline, options: ExportOptions) -> Rendered:
        if options.view not in VIEWS:
            raise BackendError(f"unknown view '{options.view}' (choose from {', '.join(VIEWS)})")
        ids = node_ids(pipeline)
        context = {
            "md": options.md,
            "view": options.view,
            "nodes": [(ids[s.address], label(s.address)) for s in pipeline.stages],
            "status": _status_classes(pipeline, ids),
        }
        if options.view == "dag":
            context["tree"] = _dag_tree(pipeline, ids)
            context["edges"] = [(ids[u], ids[d]) for u, d in pipeline.edges]
        else:
            context["components"] = [
                [[(ids[s.address], label(s.address)) for s in level] for level in comp]
                for comp in levels(pipeline)
            ]
        return Rendered(render_template("mermaid/flowchart.mmd.j2", **context))


def _dag_tree(pipeline: Pipeline, ids: dict[str, str]) -> Cluster:
    top = Cluster("", "")
    files: dict[str, Cluster] = {}
    groups: dict[str, Cluster] = {}
    for n, dvcfile in enumerate(pipeline.dvcfiles()):
        if dvcfile != "dvc.yaml":
            files[dvcfile] = Cluster(f"f_{n}", label(dvcfile))
            top.children.append(files[dvcfile])
    for stage in pipeline.stages:
        home = files.get(stage.dvcfile, top)
        if stage.group is not None:
            if stage.group not in groups:
                groups[stage.group] = Cluster(f"g_{len(groups)}", label(stage.group))
                home.children.append(groups[stage.group])
            home = groups[stage.group]
        home.nodes.append(ids[stage.address])
    return top


def _status_classes(pipeline: Pipeline, ids: dict[str, str]) -> dict[str, list[str]]:
    """Frozen stages always; with --status also changed itself, rerun because
    something upstream is stale (`paraffin stale`'s rule), or up to date."""
    stale = stale_or_none(pipeline)
    classes: dict[str, list[str]] = {"changed": [], "stale": [], "uptodate": [], "frozen": []}
    for stage in pipeline.stages:
        if stage.frozen:
            kind = "frozen"
        elif stale is None:
            continue
        elif own_stale(stage.always_changed, stage.changed):
            kind = "changed"
        else:
            kind = "stale" if stage.address in stale else "uptodate"
        classes[kind].append(ids[stage.address])
    return {k: v for k, v in classes.items() if v}
