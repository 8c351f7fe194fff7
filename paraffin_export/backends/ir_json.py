"""`json`: the IR itself, versioned (schema: paraffin_export/schema/ir-v1.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from ..ir import Pipeline, Stage
from ..render import render_template
from ..stale import stale_or_none
from .base import ExportOptions, Rendered

SCHEMA_VERSION = 1


def to_document(pipeline: Pipeline) -> dict[str, Any]:
    stale = stale_or_none(pipeline)
    return {
        "version": SCHEMA_VERSION,
        "project": pipeline.project,
        "stages": [
            _stage(s, None if stale is None else s.address in stale) for s in pipeline.stages
        ],
        "edges": [list(e) for e in pipeline.edges],
        "limits": [{"name": lim.name, "slots": lim.slots} for lim in pipeline.limits],
    }


def _stage(stage: Stage, stale: bool | None) -> dict[str, Any]:
    labels = stage.labels
    return {
        "address": stage.address,
        "name": stage.name,
        "dvcfile": stage.dvcfile,
        "wdir": stage.wdir,
        "cmd": list(stage.cmd),
        "deps": list(stage.deps),
        "outs": [
            {"path": o.path, "kind": o.kind, "cache": o.cache, "persist": o.persist}
            for o in stage.outs
        ],
        "params": [{"file": p.file, "keys": list(p.keys)} for p in stage.params],
        "frozen": stage.frozen,
        "always_changed": stage.always_changed,
        "group": stage.group,
        "desc": stage.desc,
        "labels": {
            "queue": labels.queue,
            "threads": labels.threads,
            "retries": labels.retries,
            "pool": labels.pool,
            "resources": dict(labels.resources),
            "limits": list(labels.limits),
        },
        "locked": stage.locked,
        "changed": stage.changed,
        "stale": stale,
    }


class JsonBackend:
    name = "json"
    help = "the pipeline IR as versioned JSON, for tools and scripts"
    options: frozenset[str] = frozenset()

    def output_name(self, pipeline: Pipeline, options: ExportOptions) -> str:
        return "pipeline.json"

    def render(self, pipeline: Pipeline, options: ExportOptions) -> Rendered:
        doc = to_document(pipeline)
        # One stage, edge or limit per line: diffs stay per stage, and the C
        # encoder (no indent) keeps 20,000-stage exports fast.
        rows = {key: [_compact(item) for item in doc[key]] for key in ("stages", "edges", "limits")}
        return Rendered(
            render_template(
                "json/pipeline.json.j2",
                version=doc["version"],
                project=_compact(doc["project"]),
                rows=rows,
            )
        )


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
