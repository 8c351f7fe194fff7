"""The intermediate representation every backend renders.

Plain frozen dataclasses: no DVC object leaks out of the frontend, so
backends (and their tests) can build a ``Pipeline`` by hand.
All paths are POSIX and relative to the DVC root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

OutKind = Literal["out", "metric", "plot"]
LabelValue = int | str


@dataclass(frozen=True)
class Out:
    path: str
    kind: OutKind = "out"
    cache: bool = True
    persist: bool = False


@dataclass(frozen=True)
class Param:
    """One params file a stage reads; ``keys == ()`` means the whole file."""

    file: str
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Labels:
    """What `paraffin.yaml` says about a stage; backends map it to their engine."""

    queue: str | None = None
    threads: int | None = None
    retries: int | None = None
    pool: str | None = None
    resources: tuple[tuple[str, LabelValue], ...] = ()
    limits: tuple[str, ...] = ()

    def resource_dict(self) -> dict[str, LabelValue]:
        return dict(self.resources)


@dataclass(frozen=True)
class Limit:
    """A concurrency cap shared by every stage carrying ``name`` in its labels."""

    name: str
    slots: int


@dataclass(frozen=True)
class Stage:
    address: str
    name: str
    dvcfile: str
    wdir: str
    cmd: tuple[str, ...]
    deps: tuple[str, ...] = ()
    outs: tuple[Out, ...] = ()
    params: tuple[Param, ...] = ()
    frozen: bool = False
    always_changed: bool = False
    group: str | None = None
    desc: str | None = None
    labels: Labels = field(default_factory=Labels)
    locked: bool = False
    changed: bool | None = None


@dataclass(frozen=True)
class Pipeline:
    """Stages in a deterministic topological order, edges as (upstream, downstream)."""

    stages: tuple[Stage, ...]
    edges: tuple[tuple[str, str], ...] = ()
    limits: tuple[Limit, ...] = ()
    project: str = "project"
    root: str = "."

    @cached_property
    def by_address(self) -> Mapping[str, Stage]:
        return {s.address: s for s in self.stages}

    @cached_property
    def _up(self) -> Mapping[str, tuple[str, ...]]:
        return _adjacency(self.stages, ((d, u) for u, d in self.edges))

    @cached_property
    def _down(self) -> Mapping[str, tuple[str, ...]]:
        return _adjacency(self.stages, self.edges)

    def upstream(self, address: str) -> tuple[str, ...]:
        """Direct upstream addresses, in pipeline order."""
        return self._up[address]

    def downstream(self, address: str) -> tuple[str, ...]:
        """Direct downstream addresses, in pipeline order."""
        return self._down[address]

    def groups(self) -> dict[str, tuple[Stage, ...]]:
        """foreach/matrix parents and their members, in pipeline order."""
        out: dict[str, list[Stage]] = {}
        for stage in self.stages:
            if stage.group is not None:
                out.setdefault(stage.group, []).append(stage)
        return {k: tuple(v) for k, v in out.items()}

    def dvcfiles(self) -> tuple[str, ...]:
        return tuple(sorted({s.dvcfile for s in self.stages}))


def _adjacency(
    stages: Iterable[Stage], pairs: Iterable[tuple[str, str]]
) -> dict[str, tuple[str, ...]]:
    order = {}
    result: dict[str, list[str]] = {}
    for i, stage in enumerate(stages):
        order[stage.address] = i
        result[stage.address] = []
    for a, b in pairs:
        result[a].append(b)
    return {k: tuple(sorted(v, key=order.__getitem__)) for k, v in result.items()}
