"""The runtime plan's pure parts: which rules are stale (as `dvc repro` decides),
and the leftover Snakemake timers it cancels."""

from __future__ import annotations


def test_stale_rules_follow_dvc_repro() -> None:
    """Own status, or anything upstream stale; frozen stops the flow but a
    frozen stage with changed outputs is still verified (gets a job)."""
    from paraffin_export.staleness import StageStatus as StageState
    from paraffin_export.staleness import stale_rules

    #  a -> b -> c ;  f (frozen) -> g ;  x (always changed) -> y ;  u (unknown)
    after = {"a": [], "b": ["a"], "c": ["b"], "f": [], "g": ["f"], "x": [], "y": ["x"]}
    after |= {"u": [], "h": []}
    address = {rule: f"dvc.yaml:{rule}" for rule in after}

    def states(**changed: bool | None) -> dict[str, StageState]:
        return {
            address[r]: StageState(
                address[r], changed.get(r, False), frozen=r == "f", always_changed=r == "x"
            )
            for r in after
        }

    assert stale_rules(address, after, states(x=True, u=None)) == {"x", "y", "u"}
    assert stale_rules(address, after, states(x=True, b=True)) >= {"b", "c"}
    assert "a" not in stale_rules(address, after, states(x=True, b=True))
    # a frozen stage with changed outputs: a job (DVC verifies, never runs it), no flow
    assert stale_rules(address, after, states(x=True, f=True)) == {"x", "y", "f"}
    assert stale_rules(address, after, states(x=True, g=True)) == {"x", "y", "g"}


def test_only_snakemakes_leftover_timers_are_cancelled() -> None:
    """The rate limiter's re-evaluation timers would hold the exit for a second."""
    import threading

    from paraffin_export.runtime import plan as snakemake_plan

    def rearm() -> None:  # what snakemake's scheduler arms
        pass

    rearm.__module__ = snakemake_plan._SCHEDULER
    theirs, other = threading.Timer(30, rearm), threading.Timer(30, lambda: None)
    theirs.start()
    other.start()
    try:
        snakemake_plan._cancel_reevaluation_timers()
        theirs.join(5)
        assert not theirs.is_alive()
        assert other.is_alive() and not other.finished.is_set()
    finally:
        other.cancel()


def test_plan_asks_dvc_only_where_the_answer_decides() -> None:
    """`ask_statuses` skips the stages below a stale one; the rule then gives
    the same stale rules as with every stage asked, and a skipped stage never
    counts as changed itself. Random DAGs, statuses and frozen stages."""
    import random

    from paraffin_export.graph import order
    from paraffin_export.staleness import (
        StageStatus,
        ask_statuses,
        changed_itself,
        stale_rules,
    )

    rng = random.Random(18)
    skipped = 0
    for _ in range(400):
        names = [f"s{i}" for i in range(rng.randint(1, 12))]
        after = {n: [u for u in names[:i] if rng.random() < 0.3] for i, n in enumerate(names)}
        truth = {n: rng.choice([False, False, True, None]) for n in names}
        frozen = {n for n in names if rng.random() < 0.15}
        always = {n for n in names if rng.random() < 0.1}
        address = {n: n for n in names}
        full = {n: StageStatus(n, truth[n], n in frozen, n in always) for n in names}
        asked: list[str] = []

        def ask(n: str, asked: list[str] = asked, truth: dict = truth) -> bool | None:
            asked.append(n)
            return truth[n]

        edges = [(u, n) for n, ups in after.items() for u in ups]
        rows = [(n, n in frozen, n in always) for n in order(names, edges)]
        found = ask_statuses(rows, after.__getitem__, ask)
        assert sorted(found) == sorted(asked) and len(set(asked)) == len(asked)
        states = {
            n: StageStatus(n, found.get(n), n in frozen, n in always, below=n not in found)
            for n in names
        }
        assert stale_rules(address, after, states) == stale_rules(address, after, full)
        flowing = stale_rules(address, after, full) - frozen  # frozen stops the flow
        for n in names:
            if n in found and n not in frozen:  # asked only where it decides
                assert not any(u in flowing for u in after[n])
            if n not in found:
                skipped += 1
                assert n not in frozen and not changed_itself(states[n])
                assert any(u in stale_rules(address, after, full) for u in after[n])
    assert skipped > 100  # the skip happens, not only the trivial case
