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
