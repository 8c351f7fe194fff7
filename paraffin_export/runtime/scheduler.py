"""The order in which the coordinator settles stages: pure bookkeeping, no DVC.

A stage of the run gets its verdict once every stale stage upstream of it is
recorded in DVC (so no job reads an output while DVC relinks it into the
cache). A stage that fails, or cannot be recorded, fails every stage
downstream of it: their jobs are told so instead of running.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class Scheduler:
    """Waiting, ready and failed rules of one run."""

    def __init__(self, upstream: Mapping[str, Sequence[str]]) -> None:
        """``upstream``: rule -> its upstream rules, for every rule with a job in
        this run; upstream rules without a job (up to date) are ignored."""
        self.waiting = {r: {u for u in ups if u in upstream} for r, ups in upstream.items()}
        self.downstream: dict[str, list[str]] = {r: [] for r in upstream}
        for rule, ups in self.waiting.items():
            for up in sorted(ups):
                self.downstream[up].append(rule)
        # their status from the start of the run is out of date once an upstream stage ran
        self.downstream_of_stale = frozenset(r for r, ups in self.waiting.items() if ups)
        self.failed: set[str] = set()
        self._ready = [r for r in upstream if not self.waiting[r]]

    def take_ready(self) -> list[str]:
        """Rules that became ready since the last call (first call: the roots)."""
        ready, self._ready = self._ready, []
        return ready

    def release(self, rule: str) -> list[str]:
        """``rule`` is recorded: the rules whose last waited-for upstream it was."""
        ready = []
        for down in self.downstream[rule]:
            self.waiting[down].discard(rule)
            if not self.waiting[down] and down not in self.failed:
                ready.append(down)
        return ready

    def fail(self, rule: str) -> list[str]:
        """``rule`` failed: it and every rule downstream of it that had not
        failed already, each once, depth first."""
        failed, todo = [], [rule]
        while todo:
            current = todo.pop()
            if current in self.failed:
                continue
            self.failed.add(current)
            failed.append(current)
            todo += self.downstream[current]
        return failed
