"""The `paraffin` runner's DVC side: one thread in the main Snakemake process.

Jobs (`job.sh`) only run commands. This thread owns the one DVC repo of the
run and makes every DVC decision and write, in batches:

- a stage's verdict is given once every stale stage upstream of it is
  recorded (`scheduler`), so no job reads an output while DVC relinks it into
  the cache: `dvc_steps.before_command`, i.e. DVC's status, run-cache
  restore, frozen checks; the verdict is compiled to sh (`verdict_script`);
- journal entries of finished jobs (`journal`) are recorded together: DVC's
  `save` and `commit` per stage (`dvc_steps.after_command`), then one atomic
  write per `dvc.lock` (`lockfile`), then the entries are deleted.

Each batch holds DVC's repo lock and one rwlock over all its paths
(`rwlock`). Stages are recorded as they finish, not at the end, so a long run
that fails keeps its finished work (as `dvc repro` does), and what a crash
interrupts is still in the journal for the next run (`journal.replay`).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..paths import HEARTBEAT, JOURNAL, STARTED, VERDICT, run_dir
from . import dvc_steps, rwlock, verdict_script
from .journal import Journal
from .lockfile import PendingWrites
from .report import RunReport
from .scheduler import Scheduler

log = logging.getLogger(__name__)
POLL = 0.01  # journal polling: a finished job's downstream waits on it
HEARTBEAT_EVERY = 1.0  # seconds; jobs give up on a heartbeat a minute old


class Coordinator:
    def __init__(
        self,
        root: Path,
        repo: Any,
        stages: Mapping[str, tuple[str, Any, bool | None]],
        upstream: Mapping[str, Sequence[str]],
        report: RunReport | None = None,
    ) -> None:
        """``stages``: rule -> (address, DVC stage, planned status) for every
        rule that has a job in this run; ``upstream``: rule -> upstream rules;
        ``report`` hears what happens to each stage."""
        self.root, self.repo, self.stages = root, repo, stages
        self.report = report or RunReport.for_stages(
            str(root), {r: a for r, (a, _, _) in stages.items()}
        )
        self.scheduler = Scheduler({rule: upstream[rule] for rule in stages})
        self.paths = {r: dvc_steps.lock_paths(st) for r, (_, st, _) in stages.items()}
        self.locks = PendingWrites([st for _, st, _ in stages.values()])
        self.journal = Journal(root)
        self.settled: set[str] = set()  # journal entries handled in this run
        self.errors: list[str] = []
        self.counts = {"run": 0, "done": 0, "recorded": 0, "batches": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="paraffin", daemon=True)
        self._beat = 0.0
        self._dir = Path(run_dir(root))

    def start(self) -> None:
        for sub in (VERDICT, STARTED):
            shutil.rmtree(self._dir / sub, ignore_errors=True)
        for sub in (VERDICT, STARTED, JOURNAL):
            (self._dir / sub).mkdir(parents=True, exist_ok=True)
        self._heartbeat("running")
        # what DVC says about a stage goes to that stage's job log (the verdict)
        logging.getLogger("dvc").setLevel(logging.WARNING)
        self.report.start()
        self._thread.start()

    def stop(self) -> list[str]:
        """Record what finished, stop, and return the errors of the run."""
        self._stop.set()
        self._thread.join()
        self.report.stop()
        if not self.errors:
            self._heartbeat("stopped")
        self.repo.close()
        return self.errors

    def _loop(self) -> None:
        try:
            while True:
                stopping = self._stop.is_set()
                busy = self._step(flush=stopping)
                self._alive()
                if stopping and not busy:
                    return
                if not busy:
                    self._stop.wait(POLL)
        except BaseException as exc:  # noqa: BLE001 - jobs must hear of it, not hang
            log.exception("paraffin coordinator failed")
            self.errors.append(f"the paraffin coordinator failed: {exc}")
            self._heartbeat("failed", error=str(exc))

    def _step(self, flush: bool = False) -> bool:
        """One batch: record finished jobs, give verdicts to what they unblock,
        and write `dvc.lock` when due (``flush``: now)."""
        from dvc.repo import lock_repo

        finished = self._finished_jobs()
        ready = self.scheduler.take_ready()
        if not finished and not ready:
            return self._write_locks() if flush and self.locks.unwritten else False
        paths = [self.paths[r] for r in finished + ready]
        read = sorted({p for deps, _ in paths for p in deps})
        write = sorted({p for _, outs in paths for p in outs})
        # DVC's reentrant repo lock: DVC methods called inside take it again
        with lock_repo(self.repo), rwlock.batch_rwlock(self.repo, read, write):
            self.locks.add(self._record(finished), finished)
            self.settled.update(finished)
            for rule in finished:
                if rule not in self.scheduler.failed:
                    self.report.finished(rule)
            for rule in finished:
                ready += self.scheduler.release(rule)
            self.locks.add(self._give_verdicts(ready), [])
            if flush or self.locks.due():
                self._write_locks()
            else:
                for rule in finished:  # DVC's commit relinked the outputs
                    self.journal.stamp(rule, self.stages[rule][1], again=True)
        return True

    def _write_locks(self) -> bool:
        """All recorded stages into `dvc.lock`, then their journal entries go."""
        written, journalled = self.locks.write()
        self.counts["batches"] += written
        self.journal.remove(journalled)
        return True

    def _finished_jobs(self) -> list[str]:
        """New journal entries, each fingerprinted as soon as it is seen, before
        any lock (nothing writes the stage's deps or outs in between: its
        downstream waits for this coordinator), so a crash replays it."""
        new = self.journal.new(self.stages, self.settled)
        for rule in new:
            self.journal.stamp(rule, self.stages[rule][1])
        return new

    def _record(self, rules: list[str]) -> list[Any]:
        recorded = []
        for rule in rules:
            self._alive()
            address, stage, _ = self.stages[rule]
            try:
                dvc_steps.after_command(stage)
            except Exception as exc:  # noqa: BLE001 - reported, and downstream stops
                self._fail(rule, f"stage '{address}' ran but DVC cannot record it: {exc}")
                continue
            recorded.append(stage)
            self.counts["recorded"] += 1
        return recorded

    def _fail(self, rule: str, message: str) -> None:
        self.errors.append(message)
        for failed in self.scheduler.fail(rule):
            self._verdict(failed, {"action": "fail", "message": message})

    def _give_verdicts(self, ready: list[str]) -> list[Any]:
        """Verdicts for ``ready``, each written as soon as it is known (the
        outputs it may read are committed already); a stage settled without a
        command (unchanged, restored, frozen) releases its downstream at once."""
        recorded, queue = [], list(ready)
        while queue:
            self._alive()
            rule = queue.pop(0)
            address, stage, planned = self.stages[rule]
            # the planned status holds only if nothing upstream ran since
            changed = None if rule in self.scheduler.downstream_of_stale else planned
            try:
                decision = dvc_steps.before_command(stage, changed)
            except Exception as exc:  # noqa: BLE001 - DVC's error, shown by the job
                self._fail(rule, f"stage '{address}': {exc}")
                continue
            self.counts[decision.action] += 1
            if decision.action == "run":
                self._verdict(rule, dvc_steps.run_verdict(stage, address))
                continue
            self._verdict(rule, {"action": "done", "message": decision.message})
            self.report.decided(rule, decision.kind, decision.message)
            if decision.recorded:
                recorded.append(stage)
                self.counts["recorded"] += 1
            queue += self.scheduler.release(rule)
        return recorded

    def _verdict(self, rule: str, verdict: dict[str, Any]) -> None:
        script = verdict_script.compile_verdict(rule, verdict, str(self.root))
        write_atomic(self._dir / VERDICT / f"{rule}.sh", script)

    def _alive(self) -> None:
        """The heartbeat, also in the middle of a long batch."""
        if time.monotonic() - self._beat > HEARTBEAT_EVERY:
            self._heartbeat("running")

    def _heartbeat(self, state: str, error: str | None = None) -> None:
        self._beat = time.monotonic()
        write_atomic(self._dir / HEARTBEAT, verdict_script.heartbeat(state, error))
