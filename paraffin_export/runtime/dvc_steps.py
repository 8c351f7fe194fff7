"""What `dvc repro` does to one stage around its command, as separate steps.

`Stage.reproduce` -> `Stage.run` (dvc/stage/__init__.py, dvc/stage/run.py)
is: skip an unchanged stage; remove the outputs (unprotect `persist` ones);
restore from the run cache if it can (which also covers outputs that were
only deleted); otherwise run the command; then `save` (hash deps, params,
outs; write a run-cache entry unless an output is uncached) and `commit`
(outputs into the cache); frozen stages only verify and record their
outputs. The `paraffin` runner calls the same DVC methods in the same order,
from one process, with the command run by a job in between
(`job.sh`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Decision:
    action: str  # "run": the job runs the command; "done": nothing left to run
    message: str
    recorded: bool = False  # DVC saved and committed the stage: it goes into dvc.lock
    kind: str = "run"  # for "done": why (unchanged, frozen, restored), as the run summary counts


def before_command(stage: Any, changed: bool | None, force: bool = False) -> Decision:
    """Everything `dvc repro` does before the command. ``changed`` is DVC's
    status from the run's plan when nothing upstream ran since (None: ask).
    ``force`` is `dvc repro -f`: no status check and no run-cache restore."""
    with deps_built_once(stage):
        return _before(stage, changed, force)


def _before(stage: Any, changed: bool | None, force: bool) -> Decision:
    from dvc.stage.cache import RunCacheNotFoundError

    name = stage.addressing
    if changed is None and not force:
        changed = bool(stage.changed())
    if not (changed or force):
        return Decision("done", f"Stage '{name}' didn't change, skipping", kind="unchanged")
    if stage.frozen or not stage.cmd:
        stage._check_missing_outputs()
        after_command(stage)
        return Decision("done", f"Verifying outputs in frozen stage: '{name}'", True, "frozen")
    stage.remove_outs(ignore_remove=False, force=False)
    if force:
        return Decision("run", "")
    try:
        stage.repo.stage_cache.restore(stage)
    except RunCacheNotFoundError:
        return Decision("run", "")
    after_command(stage)
    message = f"Stage '{name}' is cached - skipping run, checking out outputs"
    return Decision("done", message, True, "restored")


def after_command(stage: Any, prefetched: Any = None, rule: str = "") -> None:
    """Everything `dvc repro` does after the command, before `dvc.lock`.
    ``prefetched``: the run's `prefetch.Prefetcher`, whose hashes and staged
    cache copies for ``rule`` DVC's save and commit then find."""
    no_cache_outs = any(not o.use_cache for o in stage.outs if not (o.is_metric or o.is_plot))
    with deps_built_once(stage):
        stage.save(allow_missing=False, run_cache=not no_cache_outs)
    if prefetched is None:
        stage.commit(allow_missing=False)
        return
    prefetched.place(rule, stage)
    _commit(stage, prefetched)


@contextmanager
def deps_built_once(stage: Any) -> Iterator[None]:
    """Within one step DVC hashes each dep of a stage that can have a
    run-cache entry three times (`_can_hash` twice, then `save_deps`): 1,200
    builds for a join of 400 deps, 0.2 s before its command and 0.2 s after.
    Nothing writes a dep during a step (its upstream stages are recorded, and
    DVC's rwlock holds it), so each dep's first build stands for the step:
    the same hashes, once. Deps are never cached, so a build stores nothing."""
    deps = [dep for dep in stage.deps if "_build" not in vars(dep) and hasattr(dep, "_build")]
    for dep in deps:
        dep._build = _once(dep._build)
    try:
        yield
    finally:
        for dep in deps:
            del dep._build


def _once(build: Callable[..., Any]) -> Callable[..., Any]:
    """``build``, answered from the first call with the same arguments."""
    memo: dict[tuple[Any, ...], Any] = {}

    def once(*args: Any, **kwargs: Any) -> Any:
        key = (*map(_part, args), *sorted((k, _part(v)) for k, v in kwargs.items()))
        if key not in memo:
            memo[key] = build(*args, **kwargs)
        return memo[key]

    return once


def _part(value: Any) -> Any:
    """A value as a memo key: plain data as itself, objects by identity."""
    if value is None or isinstance(value, str | bytes | int | float):
        return value
    return (type(value).__name__, id(value))


def _commit(stage: Any, prefetched: Any) -> None:
    """`Stage.commit` (its rwlock is the coordinator's batch lock), where a
    relink that would copy a file back out of the cache is `settle`d instead."""
    from dvc.exceptions import CacheLinkError

    failures = []
    for out in stage.outs:
        back = prefetched.copies_back(out)
        try:
            out.commit(relink=not back)
        except CacheLinkError:
            failures.append(out.fs_path)
            continue
        if back:
            prefetched.settle(out)
    if failures:
        raise CacheLinkError(failures)


def local_paths(items: Any) -> list[str]:
    """Paths in the workspace of deps or outs (not imports from other repos,
    databases or remote URLs)."""
    from dvc.dependency.db import AbstractDependency
    from dvc.dependency.repo import RepoDependency

    return [
        item.fs_path
        for item in items
        if not isinstance(item, RepoDependency | AbstractDependency)
        and getattr(item.fs, "protocol", "local") in ("local", "file")
    ]


def commands(stage: Any) -> list[str]:
    """DVC's `_enforce_cmd_list`: a list stays a list, a string is split on lines."""
    return list(stage.cmd) if isinstance(stage.cmd, list) else stage.cmd.splitlines()


def run_verdict(stage: Any, address: str) -> dict[str, Any]:
    """What a job needs to run the command without DVC."""
    return {
        "action": "run",
        "address": address,
        "cmd": commands(stage),
        "wdir": stage.wdir,
        "remove": local_paths(o for o in stage.outs if not o.persist),
        "outs": local_paths(stage.outs),
        "deps": local_paths(stage.deps),
    }


def lock_paths(stage: Any) -> tuple[list[str], list[str]]:
    """What DVC's rwlock guards for a stage: deps read, outs written."""
    return local_paths(stage.deps), local_paths(stage.outs)
