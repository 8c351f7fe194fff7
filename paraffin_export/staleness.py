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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .graph import order


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
    changed: bool | None  # None: DVC cannot tell, or was not asked (``below``)
    frozen: bool
    always_changed: bool
    # not asked: a stage above it is stale, so it is too, whatever DVC says of
    # it; its own status is taken once its upstream ran (`ask_statuses`)
    below: bool = False


def stale_addresses(
    stages: Sequence[Status], upstream: Callable[[str], Iterable[str]]
) -> tuple[str, ...]:
    """Stale addresses of ``stages`` (in topological order), in that order;
    ``upstream(address)``: the addresses right above it."""
    stale: set[str] = set()
    frozen: set[str] = set()
    for stage in stages:
        own = own_stale(stage.always_changed, stage.changed)
        if stage.frozen:
            if stage.changed is not False:
                frozen.add(stage.address)
            continue
        if own or any(up in stale for up in upstream(stage.address)):
            stale.add(stage.address)
    stale |= frozen
    return tuple(s.address for s in stages if s.address in stale)


def ask_statuses(
    stages: Sequence[tuple[str, bool, bool]],
    upstream: Callable[[str], Iterable[str]],
    ask: Callable[[str], bool | None],
) -> dict[str, bool | None]:
    """DVC's status (``ask``) of each of ``stages`` (address, frozen,
    always_changed; in topological order) whose status decides whether it is
    stale: not of a stage below a stale one (`stale_addresses` makes it stale
    whatever DVC says; its job asks DVC once its upstream ran). A frozen
    stage is always asked: staleness does not flow into it."""
    stale: set[str] = set()
    found: dict[str, bool | None] = {}
    for address, frozen, always_changed in stages:
        if not frozen and any(up in stale for up in upstream(address)):
            stale.add(address)
            continue
        found[address] = changed = ask(address)
        if not frozen and own_stale(always_changed, changed):
            stale.add(address)
    return found


def stale_rules(
    address: Mapping[str, str],
    upstream: Mapping[str, Sequence[str]],
    states: Mapping[str, StageStatus],
) -> frozenset[str]:
    """`stale_addresses` over the Snakefile's own graph (rule ->
    address, rule -> upstream rules); a hand-edited Snakefile may not list its
    rules in topological order, so they are ordered first."""
    rule_of = {a: rule for rule, a in address.items()}
    edges = [(address[up], address[rule]) for rule, ups in upstream.items() for up in ups]
    ordered = order(list(address.values()), edges)
    above = {address[rule]: [address[up] for up in ups] for rule, ups in upstream.items()}
    stale = stale_addresses([states[a] for a in ordered], above.__getitem__)
    return frozenset(rule_of[a] for a in stale)


def changed_itself(state: StageStatus) -> bool:
    """Changed by DVC's own status (or cannot tell), not only through upstream."""
    return not state.below and own_stale(state.always_changed, state.changed)


def own_stale(always_changed: bool, changed: bool | None) -> bool:
    """Stale by the stage's own status: always changed, changed, or DVC cannot tell."""
    return always_changed or changed is not False
