"""The `paraffin` runner's DVC side: one thread in the coordinator process (`coordmain`).

Jobs (`job.sh`) only run commands. This thread owns the one DVC repo of the
run and makes every DVC decision and write, in batches:

- a stage's verdict is given once every stale stage upstream of it is
  recorded (`scheduler`), so no job reads an output while DVC relinks it into
  the cache: `dvc_steps.before_command`, i.e. DVC's status, run-cache
  restore, frozen checks; the verdict is compiled to sh (`verdict_script`)
  and carries this run's token, which the job's journal entry carries back;
- journal entries of finished jobs (`journal`) are hashed in parallel
  (`prefetch`), then recorded together (at once when a stage waits for them
  alone, otherwise gathered for up to 0.2 s: `scheduler.Gather`): DVC's
  `save` and `commit` per stage (`dvc_steps.after_command`), then one atomic
  write per `dvc.lock` (`lockfile.PendingWrites`) in `dvc repro` order, with
  the `.gitignore` lines in that order too (`gitignores`), then the entries
  are deleted.

DVC's locks are held as `dvc repro` holds them: a stage's deps (read) and
outs (write) in DVC's rwlock from its "run" verdict until it is recorded
(`rwlock.HeldLocks`), so a `dvc repro` or `dvc commit` started beside the
run fails with "is busy"; and the repo lock from a stage's commit to the
cache until its `dvc.lock` entry is written, so `dvc gc` never sees committed
objects that no `dvc.lock` names yet.

Stages are recorded as they finish, not at the end, so a long run that fails
keeps its finished work (as `dvc repro` does), and what a crash interrupts is
still in the journal for the next run (`journal.replay`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..paths import HEARTBEAT, JOBS, JOURNAL, STARTED, TOKEN, VERDICT, run_dir
from . import dvc_steps, failures, gitignores, prefetch, rwlock, scmfast, statebatch, verdict_script
from .journal import Journal
from .lockfile import PendingWrites
from .owner import pid as owner_pid
from .report import RunReport
from .runlock import listed_jobs, unwatch, watch
from .scheduler import Gather, Scheduler, waiting_first

log = logging.getLogger(__name__)
POLL = 0.01  # journal polling: a finished job's downstream waits on it
HEARTBEAT_EVERY = 1.0  # seconds; jobs give up on a heartbeat a minute old
WAITING_EVERY = 8  # verdicts given between two looks at which jobs wait for theirs


class Coordinator:
    def __init__(
        self,
        root: Path,
        repo: Any,
        stages: Mapping[str, tuple[str, Any, bool | None]],
        upstream: Mapping[str, Sequence[str]],
        report: RunReport | None = None,
        order: Sequence[Any] = (),
        force: bool = False,
    ) -> None:
        """``stages``: rule -> (address, DVC stage, planned status) for every
        rule that has a job in this run; ``upstream``: rule -> upstream rules;
        ``report`` hears what happens to each stage; ``order``: the project's
        DVC stages in `dvc repro` order (default: the order of ``stages``), the
        order dvc.lock entries and `.gitignore` lines are written in;
        ``force``: `dvc repro -f` for every stage."""
        self.root, self.repo, self.stages, self.force = root, repo, stages, force
        self.report = report or RunReport.for_stages(
            str(root), {r: a for r, (a, _, _) in stages.items()}
        )
        self.scheduler = Scheduler({rule: upstream[rule] for rule in stages})
        self.gather = Gather(self.scheduler)
        self.paths = {r: dvc_steps.lock_paths(st) for r, (_, st, _) in stages.items()}
        order = order or [st for _, st, _ in stages.values()]
        self.locks = PendingWrites(order)
        self.ignores = gitignores.Order(repo, order)
        scmfast.install(repo.scm)
        self.settled: set[str] = set()  # journal entries handled in this run
        self.running: set[str] = set()  # "run" verdicts not yet journalled
        self.errors: list[str] = []
        self.counts = {"run": 0, "done": 0, "recorded": 0, "batches": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="paraffin", daemon=True)
        self._beat = 0.0
        self._dir = Path(run_dir(root))
        self.prefetch: prefetch.Prefetcher | None = None  # made in start()
        self.watchdog: subprocess.Popen[bytes] | None = None  # started in start()
        self._seen: set[str] = set()  # journal entries stamped and submitted
        # this run's jobs carry it back in their journal entries
        self.token = os.urandom(8).hex()
        self.journal = Journal(root, self.token)
        self.verdicts = verdict_script.Verdicts(self._dir / VERDICT, str(root))
        self.held = rwlock.HeldLocks(repo)
        self.repo_lock = rwlock.RepoLock(repo)  # held while stages wait for dvc.lock

    def start(self) -> None:
        # started/ stays: its markers hold the run's token (`verdict_script`)
        shutil.rmtree(self._dir / VERDICT, ignore_errors=True)
        for sub in (VERDICT, STARTED, JOURNAL, JOBS):
            (self._dir / sub).mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        write_atomic(self._dir / TOKEN, f"{self.token} {owner_pid()} {host}\n")
        self._heartbeat("running")
        # stops this run's jobs on this host once this process is gone
        self.watchdog = watch(self.root, self.token, host)
        self.prefetch = prefetch.Prefetcher(self.repo)
        # what DVC says about a stage goes to that stage's job log (the verdict)
        logging.getLogger("dvc").setLevel(logging.WARNING)
        self.report.start(self.token)
        self._thread.start()

    def stop(self) -> list[str]:
        """Record what finished, stop, and return the errors of the run."""
        self._stop.set()
        self._thread.join()
        if self.prefetch is not None:
            self.prefetch.close()
        self.report.stop()
        try:
            if not self.errors:
                self._heartbeat("stopped")
            self.held.release_all()
            self.journal.finish()
        except OSError as exc:  # a full disk: said once, not as a traceback
            line = failures.os_error_line(exc)
            if line is None:
                raise
            self.errors.append(line)
        finally:
            unwatch(self.watchdog)
            self._unlock(force=True)
            self.repo.close()
        return self.errors

    def _loop(self) -> None:
        try:
            while True:
                stopping = self._stop.is_set()
                busy = self._step(flush=stopping)
                self._alive()
                if stopping and not busy and not self.prefetch.pending():
                    return
                if not busy:
                    self._stop.wait(POLL)
        except BaseException as exc:  # noqa: BLE001 - jobs must hear of it, not hang
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        """One line for what the system refused (disk full, permissions):
        the file and the reason; a traceback only for our own bugs. Whatever
        fails next (the heartbeat on a full disk) must not bury it."""
        message = failures.os_error_line(exc)
        if message is not None:
            log.error("paraffin: %s", message)
        else:
            message = f"the paraffin coordinator failed: {exc}"
            log.exception("paraffin coordinator failed")
        self.errors.append(message)
        try:
            self._heartbeat("failed", error=message)
        except OSError:
            pass  # jobs see the heartbeat stop instead
        self._unlock(force=True)

    def _unlock(self, force: bool = False) -> None:
        """Give the repo lock back to other `dvc` commands once nothing
        committed waits for its `dvc.lock` entry (``force``: the run is over)."""
        if force or not self.locks:
            self.repo_lock.release()

    def _step(self, flush: bool = False) -> bool:
        """One batch: record finished jobs, give verdicts to what they unblock,
        and write `dvc.lock` when due (``flush``: now)."""
        finished = self._finished_jobs()
        if not flush and not self.gather.due(finished, time.monotonic()):
            finished = []  # recorded with the next ones
        ready = self.scheduler.take_ready()
        due = flush or self.locks.due()
        if not finished and not ready:
            if self.locks and due:
                self._write_locks()
                self._unlock()
                return True
            return False
        self.repo_lock.take()
        settled: list[str] = []
        try:
            with statebatch.one_transaction(self.repo.state):
                # finished stages hold their rwlock paths since their "run" verdict
                self.locks.add(self._record(finished), finished)
                self.settled.update(finished)
                for rule in finished:
                    self.running.discard(rule)
                    if rule not in self.scheduler.failed:
                        self.report.finished(rule)
                    ready += self.scheduler.release(rule)
                settled = self._give_verdicts(ready)
            if due:
                self._write_locks()
            else:  # DVC's commit relinked the outputs
                self.journal.stamp({r: self.stages[r][1] for r in finished}, again=True)
        finally:
            # recorded, settled without a command, or failed: their paths go
            self.held.change(([], []), self._paths(finished + settled))
            self._unlock()
        return True

    def _paths(self, rules: list[str]) -> tuple[list[str], list[str]]:
        """DVC's rwlock paths of ``rules``: deps read, outs written."""
        return (
            [p for r in rules for p in self.paths[r][0]],
            [p for r in rules for p in self.paths[r][1]],
        )

    def _write_locks(self) -> bool:
        """All recorded stages into `dvc.lock` (and their `.gitignore` lines
        into `dvc repro` order), then their journal entries go."""
        written, journalled = self.locks.write()
        if written:
            self.ignores.settle()
        self.counts["batches"] += written
        self.journal.remove(journalled)
        return True

    def _finished_jobs(self) -> list[str]:
        """New journal entries of this run's jobs, each fingerprinted as soon
        as it is seen, before any lock (nothing writes the stage's deps or
        outs in between: its downstream waits for this coordinator), so a
        crash replays it; returned once its outputs are hashed (`prefetch`)."""
        new = self.journal.new(self.stages, self.settled)
        unseen = {r: self.stages[r][1] for r in new if r not in self._seen}
        for rule in self.journal.claim(unseen):
            self._seen.add(rule)
            self.prefetch.submit(rule, unseen[rule])
        return [r for r in new if r in self._seen and self.prefetch.done(r)]

    def _record(self, rules: list[str]) -> list[Any]:
        recorded = []
        for rule in rules:
            self._alive()
            address, stage, _ = self.stages[rule]
            try:
                self.prefetch.apply(rule)
                dvc_steps.after_command(stage, self.prefetch, rule)
            except Exception as exc:  # noqa: BLE001 - reported, and downstream stops
                why = failures.os_error_line(exc) or exc  # a full disk: the file
                self._fail(rule, f"stage '{address}' ran but DVC cannot record it: {why}")
                continue
            finally:
                self.prefetch.discard(rule)
            recorded.append(stage)
            self.counts["recorded"] += 1
        return recorded

    def _fail(self, rule: str, message: str) -> None:
        self.errors.append(message)
        for failed in self.scheduler.fail(rule):
            self.verdicts.give(failed, {"action": "fail", "message": message})
        self.verdicts.flush()

    def _give_verdicts(self, ready: list[str]) -> list[str]:
        """Verdicts for ``ready``, written in small batches as they are known
        (the outputs they may read are committed already); a stage settled
        without a command (unchanged, restored, frozen) releases its
        downstream at once. Each stage's rwlock paths are taken before DVC
        looks at it and kept if its command is to run; returns the rules
        settled otherwise."""
        settled, queue = [], list(ready)
        self.held.change(self._paths(queue))
        try:
            self._decide(queue, settled)
        finally:
            self.verdicts.flush()
        return settled

    def _decide(self, queue: list[str], settled: list[str]) -> None:
        given = 0
        while queue:
            self._alive()
            if self.verdicts.due():
                self.verdicts.flush()
            if given % WAITING_EVERY == 0 and len(queue) > 1:
                queue[:] = waiting_first(queue, self._waiting())
            given += 1
            rule = queue.pop(0)
            address, stage, planned = self.stages[rule]
            # the planned status holds only if nothing upstream ran since
            changed = None if rule in self.scheduler.downstream_of_stale else planned
            settled.append(rule)
            try:
                decision = dvc_steps.before_command(stage, changed, self.force)
            except Exception as exc:  # noqa: BLE001 - DVC's error, shown by the job
                self._fail(rule, f"stage '{address}': {exc}")
                continue
            self.counts[decision.action] += 1
            if decision.action == "run":
                settled.pop()
                self.running.add(rule)
                verdict = dvc_steps.run_verdict(stage, address) | {"token": self.token}
                self.verdicts.give(rule, verdict)
                continue
            self.verdicts.give(rule, {"action": "done", "message": decision.message})
            self.report.decided(rule, decision.kind, decision.message)
            if decision.recorded:
                self.locks.add([stage], [])
                self.counts["recorded"] += 1
            released = self.scheduler.release(rule)
            self.held.change(self._paths(released))
            queue += released

    def _waiting(self) -> set[str]:
        """Rules whose job already waits (it lists itself as it starts)."""
        return listed_jobs(self._dir / JOBS)

    def _alive(self) -> None:
        """The heartbeat, also in the middle of a long batch."""
        if time.monotonic() - self._beat > HEARTBEAT_EVERY:
            self._heartbeat("running")

    def _heartbeat(self, state: str, error: str | None = None) -> None:
        self._beat = time.monotonic()
        extra = {}
        if self.prefetch is not None:  # what the parallel hashing did (tests, benchmarks)
            extra["hashed"] = json.dumps(dict(self.prefetch.counts), sort_keys=True)
        write_atomic(self._dir / HEARTBEAT, verdict_script.heartbeat(state, error, extra))
