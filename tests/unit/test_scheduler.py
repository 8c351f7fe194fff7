"""The coordinator's scheduler, without DVC: every branch of waiting, ready,
release and failure."""

from __future__ import annotations

from paraffin_export.runtime.scheduler import Scheduler

#   a -> b -> d ;  a -> c -> d (a diamond) ;  e alone ;  f after "gone" (no job)
UPSTREAM = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": [], "f": ["gone"]}


def test_roots_and_stages_whose_upstream_has_no_job_are_ready_at_once() -> None:
    scheduler = Scheduler(UPSTREAM)
    assert scheduler.take_ready() == ["a", "e", "f"]
    assert scheduler.take_ready() == []
    assert scheduler.downstream_of_stale == {"b", "c", "d"}


def test_a_stage_is_ready_once_its_last_upstream_is_released() -> None:
    scheduler = Scheduler(UPSTREAM)
    scheduler.take_ready()
    assert scheduler.release("a") == ["b", "c"]
    assert scheduler.release("b") == []  # d still waits for c
    assert scheduler.release("c") == ["d"]
    assert scheduler.release("d") == [] and scheduler.release("e") == []
    assert scheduler.take_ready() == []  # release returns, it does not queue


def test_a_failure_fails_everything_below_it_once() -> None:
    scheduler = Scheduler(UPSTREAM)
    assert scheduler.fail("a") == ["a", "c", "d", "b"]  # d is below both b and c
    assert scheduler.failed == {"a", "b", "c", "d"}
    assert scheduler.fail("b") == []  # already failed


def test_a_failed_stage_is_never_released() -> None:
    scheduler = Scheduler(UPSTREAM)
    assert scheduler.fail("c") == ["c", "d"]
    assert scheduler.release("a") == ["b"]
    assert scheduler.release("b") == []  # d's upstream is done, but d failed
