"""The coordinator's scheduler, without DVC: every branch of waiting, ready,
release and failure."""

from __future__ import annotations

from paraffin_export.runtime.scheduler import Gather, Scheduler, waiting_first

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


def test_unblocks_says_whether_recording_rules_would_start_a_stage() -> None:
    """The coordinator lets finished stages gather while recording them
    would start nothing: a stage waits for the rest of its upstream."""
    scheduler = Scheduler(UPSTREAM)
    assert scheduler.unblocks(["a"])  # b and c wait for a alone
    assert not scheduler.unblocks(["e"])  # nothing below e
    scheduler.release("a")
    assert not scheduler.unblocks(["b"])  # d still waits for c
    assert scheduler.unblocks(["b", "c"])  # together they release d
    scheduler.release("b")
    assert scheduler.unblocks(["c"])
    scheduler.fail("d")
    assert not scheduler.unblocks(["c"])  # a failed stage never starts


def test_verdicts_go_first_to_the_jobs_that_wait_for_them() -> None:
    queue = [f"w{i}" for i in range(6)]
    assert waiting_first(queue, set()) == queue
    assert waiting_first(queue, {"w4", "w1", "other"}) == ["w1", "w4", "w0", "w2", "w3", "w5"]


def test_finished_stages_gather_until_a_stage_waits_for_them_alone() -> None:
    """Recorded at once when that starts a stage, when the batch is large, or
    `wait` seconds after its first stage finished; otherwise they gather."""
    upstream = {"a": [], "b": [], "c": [], "join": ["a", "b", "c"], "next": ["c"]}
    scheduler = Scheduler(upstream)
    gather = Gather(scheduler, wait=0.2, most=3)
    assert gather.due([], 0.0)  # nothing to record: nothing held back
    assert not gather.due(["a"], 10.0)  # join still waits for b and c
    assert not gather.due(["a", "b"], 10.1)
    assert gather.due(["a", "b"], 10.25)  # 0.2 s after a finished
    assert gather.due(["c"], 10.25)  # next waits for c alone
    assert Gather(scheduler, most=2).due(["a", "b"], 0.0)  # large enough
    scheduler.release("c")
    assert gather.due(["a", "b"], 10.15)  # together they start join
