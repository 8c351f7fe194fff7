"""Which stages a `dvc repro` would run: one rule for `paraffin stale` and the Snakefile's plan.

A stage is stale when DVC's own status reports it changed (or cannot tell),
when it is ``always_changed``, or when any stage upstream of it is stale (an
upstream rerun can change its deps). Staleness does not flow through a
``frozen`` stage: `dvc repro` never runs its command. A frozen stage is stale
only when its own status is not clean (its outputs changed, or no lock entry
yet): `dvc repro` then verifies its outputs and records them in `dvc.lock`,
and so must a job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


class Status(Protocol):
    """What the rule reads of a stage (an IR `Stage` has it too)."""

    @property
    def address(self) -> str: ...
    @property
    def changed(self) -> bool | None: ...
    @property
    def frozen(self) -> bool: ...
    @property
    def always_changed(self) -> bool: ...


@dataclass(frozen=True)
class StageStatus:
    """What DVC says about one stage right now."""

    address: str
    changed: bool | None  # None: DVC cannot tell
    frozen: bool
    always_changed: bool


def stale_addresses(
    stages: Sequence[Status], upstream: Callable[[str], Iterable[str]]
) -> tuple[str, ...]:
    """Stale addresses of ``stages`` (in topological order), in that order;
    ``upstream(address)``: the addresses right above it."""
    stale: set[str] = set()
    frozen: set[str] = set()
    for stage in stages:
        own = stage.always_changed or stage.changed is not False
        if stage.frozen:
            if stage.changed is not False:
                frozen.add(stage.address)
            continue
        if own or any(up in stale for up in upstream(stage.address)):
            stale.add(stage.address)
    stale |= frozen
    return tuple(s.address for s in stages if s.address in stale)
