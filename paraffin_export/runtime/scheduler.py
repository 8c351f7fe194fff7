"""The order in which the coordinator settles stages: pure bookkeeping, no DVC.

A stage of the run gets its verdict once every stale stage upstream of it is
recorded in DVC (so no job reads an output while DVC relinks it into the
cache). A stage that fails, or cannot be recorded, fails every stage
downstream of it: their jobs are told so instead of running.

Two orders of the coordinator's work live here too: verdicts go first to the
jobs already waiting for them (`waiting_first`), and finished stages that no
stage waits for alone gather before they are recorded (`Gather`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence


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

    def unblocks(self, rules: Sequence[str]) -> bool:
        """Whether recording ``rules`` would make some rule ready."""
        these = set(rules)
        # each rule below them once: 64 finished stages above one join are
        # one look at the join's 400 upstream stages, not 64
        below = {down for rule in these for down in self.downstream[rule]}
        return any(self.waiting[down] <= these and down not in self.failed for down in below)

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


def waiting_first(queue: list[str], waiting: Collection[str]) -> list[str]:
    """``queue`` with the rules in ``waiting`` first, each part in its order.
    Snakemake starts ready jobs in an order of its own (400 ready at once: any
    8 of them), and a job waiting for its verdict holds one of its slots."""
    first = [rule for rule in queue if rule in waiting]
    return first + [rule for rule in queue if rule not in waiting] if first else queue


class Gather:
    """When finished stages are recorded. Each batch costs DVC's repo lock,
    two rwlock rewrites, a state-database transaction and durable journal
    stamps, so stages that no stage waits for alone gather: a batch is
    recorded once recording it starts a stage (`Scheduler.unblocks`), once it
    holds ``most`` stages, or ``wait`` seconds after its first stage finished."""

    def __init__(self, scheduler: Scheduler, wait: float = 0.2, most: int = 64) -> None:
        self.scheduler, self.wait, self.most = scheduler, wait, most
        self._since: dict[str, float] = {}  # rule -> when it was first ready to record

    def due(self, finished: Sequence[str], now: float) -> bool:
        """Whether to record ``finished`` (stages ready to record, none
        recorded yet) at time ``now``."""
        for rule in finished:
            self._since.setdefault(rule, now)
        if not finished:
            return True
        if len(finished) >= self.most or self.scheduler.unblocks(finished):
            return True
        return now - min(self._since[rule] for rule in finished) >= self.wait
