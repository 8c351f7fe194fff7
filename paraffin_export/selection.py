"""Target selection, as `dvc repro` and the predecessor understood it."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from fnmatch import fnmatchcase

from .errors import SelectionError
from .ir import Pipeline

_GLOB_CHARS = frozenset("*?[")


class Mode(StrEnum):
    UPSTREAM = "upstream"
    SINGLE = "single"
    DOWNSTREAM = "downstream"


def resolve_target(pipeline: Pipeline, target: str) -> list[str]:
    """Addresses a target names: an address, a foreach/matrix group, a dvc.yaml
    path, `dir:name`, or a glob over addresses."""
    if target in pipeline.by_address:
        return [target]
    groups = pipeline.groups()
    if target in groups:
        return [s.address for s in groups[target]]
    in_file = [s.address for s in pipeline.stages if s.dvcfile == target.rstrip("/")]
    if in_file:
        return in_file
    normalized = _normalize(target)
    if normalized != target:
        return resolve_target(pipeline, normalized)
    if _GLOB_CHARS & set(target):
        hits = [s.address for s in pipeline.stages if fnmatchcase(s.address, target)]
        if hits:
            return hits
        raise SelectionError(f"glob '{target}' matches no stage")
    raise SelectionError(f"unknown target '{target}'", hint=_suggest(pipeline, target))


def _normalize(target: str) -> str:
    """`sub:train` and `./sub/dvc.yaml:train` mean `sub/dvc.yaml:train`;
    `dvc.yaml:train` means `train`."""
    if ":" not in target:
        return target
    path, name = target.rsplit(":", 1)
    path = path.removeprefix("./").rstrip("/")
    if path in ("", ".", "dvc.yaml"):
        return name
    if not path.endswith("dvc.yaml"):
        path = f"{path}/dvc.yaml"
    return f"{path}:{name}"


def _suggest(pipeline: Pipeline, target: str) -> str | None:
    names = [*pipeline.by_address, *pipeline.groups()]
    close = difflib.get_close_matches(target, names, n=3, cutoff=0.5)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def select(pipeline: Pipeline, targets: Sequence[str], mode: Mode = Mode.UPSTREAM) -> Pipeline:
    """The sub-pipeline for ``targets`` (all stages when there are none)."""
    if not targets:
        return pipeline
    chosen: set[str] = set()
    for target in targets:
        chosen.update(resolve_target(pipeline, target))
    if mode is Mode.UPSTREAM:
        chosen = _closure(chosen, pipeline.upstream)
    elif mode is Mode.DOWNSTREAM:
        chosen = _closure(chosen, pipeline.downstream)
    stages = tuple(s for s in pipeline.stages if s.address in chosen)
    edges = tuple((u, d) for u, d in pipeline.edges if u in chosen and d in chosen)
    names = {lab for s in stages for lab in s.labels.limits}
    limits = tuple(lim for lim in pipeline.limits if lim.name in names)
    return replace(pipeline, stages=stages, edges=edges, limits=limits)


def _closure(start: set[str], step) -> set[str]:  # type: ignore[no-untyped-def]
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in step(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
