"""The `paraffin` runner's DVC side: one thread in the main Snakemake process.

Jobs (`paraffin_export.job`) only run commands. This thread owns the one DVC
repo of the run and makes every DVC decision and write, in batches:

- a stage's verdict is decided once every stale stage upstream of it is
  recorded (so no job reads an output while DVC relinks it into the cache):
  `dvcops.prepare`, i.e. DVC's status, run-cache restore, frozen checks;
- journal entries of finished jobs are recorded together: DVC's `save` and
  `commit` per stage, then one atomic write per `dvc.lock` (`lockwrite`),
  then the entries are deleted.

Stages are recorded as they finish, not at the end, so a long run that fails
keeps its finished work (as `dvc repro` does), and what a crash interrupts is
still in the journal for the next run (`replay`).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import dvc_steps as dvcops
from . import lockfile as lockwrite
from . import messages as rf
from . import rwlock as dvcpatch
from . import verdict_script as jobscript
from .report import RunReport

log = logging.getLogger(__name__)
POLL = 0.01  # journal polling: a finished job's downstream waits on it


class Coordinator:
    def __init__(
        self,
        root: Path,
        repo: Any,
        stages: Mapping[str, tuple[str, Any, bool | None]],
        after: Mapping[str, Sequence[str]],
        report: RunReport | None = None,
    ) -> None:
        """``stages``: rule -> (address, DVC stage, planned status) for every
        rule that has a job in this run; ``after``: rule -> upstream rules;
        ``report`` hears what happens to each stage."""
        self.root, self.repo, self.stages = root, repo, stages
        self.report = report or RunReport.for_stages(
            os.fspath(root), {r: a for r, (a, _, _) in stages.items()}
        )
        self.waiting = {r: {u for u in after[r] if u in stages} for r in stages}
        # rules with a stale upstream: their planned status is out of date once it runs
        self.downstream_of_stale = {r for r, ups in self.waiting.items() if ups}
        self.failed: set[str] = set()
        self.below: dict[str, list[str]] = {r: [] for r in stages}
        for rule, ups in self.waiting.items():
            for up in ups:
                self.below[up].append(rule)
        self.ready = [r for r in stages if not self.waiting[r]]
        self.rank = {id(st): i for i, (_, st, _) in enumerate(stages.values())}
        self.paths = {r: dvcops.lock_paths(st) for r, (_, st, _) in stages.items()}
        self.unwritten: list[Any] = []  # recorded by DVC, not yet in dvc.lock
        self.journalled: list[str] = []  # their journal entries, deleted once written
        self._next_write = 0.0
        self.settled: set[str] = set()  # journal entries handled in this run
        self.errors: list[str] = []
        self.counts = {"run": 0, "done": 0, "recorded": 0, "batches": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="paraffin", daemon=True)
        self._beat = 0.0
        self._dir = Path(rf.run_dir(root))

    def start(self) -> None:
        for sub in (rf.VERDICT, rf.STARTED):
            shutil.rmtree(self._dir / sub, ignore_errors=True)
        for sub in (rf.VERDICT, rf.STARTED, rf.JOURNAL):
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
        """One batch: record finished jobs, decide what they unblock, and
        write `dvc.lock` when due (``flush``: now)."""
        from dvc.repo import lock_repo

        finished = self._journal()
        ready, self.ready = self.ready, []
        if not finished and not ready:
            return self._write_locks() if flush and self.unwritten else False
        rules = finished + ready
        paths = [self.paths[r] for r in rules]
        read = sorted({p for deps, _ in paths for p in deps})
        write = sorted({p for _, outs in paths for p in outs})
        # DVC's reentrant repo lock: DVC methods called inside take it again
        with lock_repo(self.repo), dvcpatch.batch_rwlock(self.repo, read, write):
            self.unwritten += self._record(finished)
            self.settled.update(finished)
            for rule in finished:
                if rule not in self.failed:
                    self.report.finished(rule)
            for rule in finished:
                ready += self._release(rule)
            self.unwritten += self._decide(ready)
            self.journalled += finished
            if flush or time.monotonic() >= self._next_write:
                self._write_locks()
            else:
                self._refresh_journal(finished)
        return True

    def _write_locks(self) -> bool:
        """All recorded stages into `dvc.lock`, then their journal entries go.
        Writes are spaced by a few times their own cost: with 500 stages in one
        `dvc.lock`, one rewrite costs about a second."""
        started = time.monotonic()
        if self.unwritten:
            # new entries in the order `dvc repro` would add them
            self.unwritten.sort(key=lambda st: self.rank[id(st)])
            lockwrite.dump_stages(self.unwritten)
            self.counts["batches"] += 1
        for rule in self.journalled:
            (self._dir / rf.JOURNAL / f"{rule}.json").unlink(missing_ok=True)
        self.unwritten, self.journalled = [], []
        spent = time.monotonic() - started
        self._next_write = time.monotonic() + min(max(4 * spent, 0.2), 10.0)
        return True

    def _refresh_journal(self, rules: list[str]) -> None:
        """Recorded, not yet in `dvc.lock`: DVC's commit relinked the outputs,
        so the journal's fingerprint must follow, or a crash now would rerun them."""
        for rule in rules:
            path = self._dir / rf.JOURNAL / f"{rule}.json"
            entry = rf.read_json(path)
            if entry is not None:
                address, stage, _ = self.stages[rule]
                entry["fingerprint"] = dvcops.fingerprint(stage, address)
                rf.write_json(path, entry, durable=True)

    def _journal(self) -> list[str]:
        names = sorted(os.listdir(self._dir / rf.JOURNAL))
        rules = [n[: -len(".json")] for n in names if n.endswith(".json")]
        new = [r for r in rules if r in self.stages and r not in self.settled]
        for rule in new:
            self._fingerprint(rule)
        return new

    def _fingerprint(self, rule: str) -> None:
        """A job.sh entry has no fingerprint (no hashing in sh): taken here, as
        soon as it is seen, before any lock (nothing writes the stage's deps
        or outs in between: its downstream waits for this coordinator), and
        made durable, so a crash from now on replays it (`replay_journal`)."""
        path = self._dir / rf.JOURNAL / f"{rule}.json"
        entry = rf.read_json(path)
        if entry is not None and "fingerprint" not in entry:
            address, stage, _ = self.stages[rule]
            entry["fingerprint"] = dvcops.fingerprint(stage, address)
            rf.write_json(path, entry, durable=True)

    def _record(self, rules: list[str]) -> list[Any]:
        recorded = []
        for rule in rules:
            self._alive()
            address, stage, _ = self.stages[rule]
            try:
                dvcops.finish(stage)
            except Exception as exc:  # noqa: BLE001 - reported, and downstream stops
                self._fail_below(rule, f"stage '{address}' ran but DVC cannot record it: {exc}")
                continue
            recorded.append(stage)
            self.counts["recorded"] += 1
        return recorded

    def _release(self, rule: str) -> list[str]:
        """Rules whose last stale upstream was ``rule``: ready for a verdict."""
        ready = []
        for down in self.below[rule]:
            self.waiting[down].discard(rule)
            if not self.waiting[down] and down not in self.failed:
                ready.append(down)
        return ready

    def _fail_below(self, rule: str, message: str) -> None:
        self.errors.append(message)
        todo = [rule]
        while todo:
            current = todo.pop()
            if current in self.failed:
                continue
            self.failed.add(current)
            todo += self.below[current]
            self._verdict(current, {"action": "fail", "message": message})

    def _decide(self, ready: list[str]) -> list[Any]:
        """Verdicts for ``ready``, each written as soon as it is known (the
        outputs it may read are committed already); a stage settled without a
        command (unchanged, restored, frozen) releases its downstream at once."""
        recorded, queue = [], list(ready)
        while queue:
            self._alive()
            rule = queue.pop(0)
            address, stage, planned = self.stages[rule]
            # the planned status holds only if nothing upstream ran since
            changed = None if rule in self.downstream_of_stale else planned
            try:
                decision = dvcops.prepare(stage, changed)
            except Exception as exc:  # noqa: BLE001 - DVC's error, shown by the job
                self._fail_below(rule, f"stage '{address}': {exc}")
                continue
            self.counts[decision.action] += 1
            if decision.action == "run":
                self._verdict(rule, dvcops.run_verdict(stage, address))
                continue
            self._verdict(rule, {"action": "done", "message": decision.message})
            self.report.decided(rule, decision.kind, decision.message)
            if decision.recorded:
                recorded.append(stage)
                self.counts["recorded"] += 1
            queue += self._release(rule)
        return recorded

    def _verdict(self, rule: str, verdict: dict[str, Any]) -> None:
        # the JSON first: job.sh's fallback (job.py) reads it
        rf.write_json(self._dir / rf.VERDICT / f"{rule}.json", verdict)
        script = jobscript.compile_verdict(rule, verdict, os.fspath(self.root))
        rf.write_text(self._dir / rf.VERDICT / f"{rule}.sh", script)

    def _alive(self) -> None:
        """The heartbeat, also in the middle of a long batch."""
        if time.monotonic() - self._beat > rf.HEARTBEAT_EVERY:
            self._heartbeat("running")

    def _heartbeat(self, state: str, error: str | None = None) -> None:
        self._beat = time.monotonic()
        beat = {"state": state, "time": time.time(), "pid": os.getpid()}
        beat |= {"host": socket.gethostname(), "error": error}
        rf.write_json(self._dir / rf.HEARTBEAT, beat)


def replay_journal(root: Path, stages: Mapping[str, Any]) -> int:
    """Record the stages a crashed run finished but did not record, when the
    workspace still shows what they left (`dvcops.journal_matches`); the rest
    are dropped, and DVC's status will rerun them. Runs under the repo lock."""
    journal = Path(rf.run_dir(root), rf.JOURNAL)
    if not journal.is_dir():
        return 0
    recorded, files = [], sorted(journal.glob("*.json"))
    for path in files:
        entry = rf.read_json(path) or {}
        address = entry.get("address")
        stage = stages.get(address)
        if stage is None or not dvcops.journal_matches(stage, address, entry):
            log.warning("paraffin: %s changed since its job finished; it runs again", address)
            continue
        try:
            dvcops.finish(stage)
        except Exception as exc:  # noqa: BLE001 - then DVC's status reruns it
            log.warning("paraffin: cannot record %s: %s", address, exc)
            continue
        recorded.append(stage)
    if recorded:
        lockwrite.dump_stages(recorded)
        log.warning("paraffin: recorded %d stages an interrupted run finished", len(recorded))
    for path in files:
        path.unlink(missing_ok=True)
    return len(recorded)
