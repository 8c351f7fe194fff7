"""The `paraffin` runner's DVC side: one thread in the main Snakemake process.

Jobs (`paraffin_export.job`) only run commands. This thread owns the one DVC
repo of the run and makes every DVC decision and write, in batches:

- a stage's verdict is decided once every stale stage upstream of it is
  recorded (so no job reads an output while DVC relinks it into the cache):
  `dvcops.prepare`, i.e. DVC's status, run-cache restore, frozen checks;
- journal entries of finished jobs are recorded together: DVC's `save` and
  `commit` per stage, then one atomic write per `dvc.lock` (`lockwrite`),
  then the entries are deleted.

DVC's locks are held as `dvc repro` holds them: a stage's deps (read) and
outs (write) in DVC's rwlock from its "run" verdict until it is recorded
(`dvcpatch.HeldLocks`), so a `dvc repro` or `dvc commit` started beside the
run fails with "is busy"; and the repo lock from a stage's commit to the
cache until its `dvc.lock` entry is written, so `dvc gc` never sees committed
objects that no `dvc.lock` names yet.

Stages are recorded as they finish, not at the end, so a long run that fails
keeps its finished work (as `dvc repro` does), and what a crash interrupts is
still in the journal for the next run (`replay`).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import dvc_steps as dvcops
from . import lockfile as lockwrite
from . import messages as rf
from . import prefetch
from . import rwlock as dvcpatch
from . import verdict_script as jobscript
from .report import RunReport

log = logging.getLogger(__name__)
# what a full disk or a read-only file answers to a write
_REFUSED = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}
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
        self.running: set[str] = set()  # "run" verdicts not yet journalled
        self.errors: list[str] = []
        self.counts = {"run": 0, "done": 0, "recorded": 0, "batches": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="paraffin", daemon=True)
        self._beat = 0.0
        self._dir = Path(rf.run_dir(root))
        self.prefetch: prefetch.Prefetcher | None = None  # made in start()
        self._seen: set[str] = set()  # journal entries fingerprinted and submitted
        # this run's jobs carry it back in their journal entries (`messages`)
        self.token = os.urandom(8).hex()
        self.held = dvcpatch.HeldLocks(repo)
        self._repo_lock: ExitStack | None = None  # held while `unwritten` is not empty

    def start(self) -> None:
        for sub in (rf.VERDICT, rf.STARTED):
            shutil.rmtree(self._dir / sub, ignore_errors=True)
        for sub in (rf.VERDICT, rf.STARTED, rf.JOURNAL, rf.JOBS):
            (self._dir / sub).mkdir(parents=True, exist_ok=True)
        rf.write_text(self._dir / rf.TOKEN, f"{self.token} {os.getpid()} {socket.gethostname()}\n")
        self._heartbeat("running")
        self.prefetch = prefetch.Prefetcher(self.repo)
        # what DVC says about a stage goes to that stage's job log (the verdict)
        logging.getLogger("dvc").setLevel(logging.WARNING)
        self.report.start()
        self._thread.start()

    def stop(self) -> list[str]:
        """Record what finished, stop, and return the errors of the run."""
        self._stop.set()
        self._thread.join()
        if self.prefetch is not None:
            self.prefetch.close()
        self.report.stop()
        if not self.errors:
            self._heartbeat("stopped")
        try:
            self.held.release_all()
        finally:
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
        if isinstance(exc, OSError) and exc.filename:
            what = "cannot write" if exc.errno in _REFUSED else "failed on"
            message = f"{what} {exc.filename}: {exc.strerror}"
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

    def _lock(self) -> None:
        """DVC's repo lock, kept from a batch that commits until the batch
        that writes `dvc.lock` (reentrant: DVC methods inside lock it again)."""
        from dvc.repo import lock_repo

        if self._repo_lock is None:
            stack = ExitStack()
            stack.enter_context(lock_repo(self.repo))
            self._repo_lock = stack

    def _unlock(self, force: bool = False) -> None:
        """Give the repo lock back to other `dvc` commands once nothing
        committed waits for its `dvc.lock` entry (``force``: the run is over)."""
        if self._repo_lock is not None and (force or not self.unwritten):
            self._repo_lock.close()
            self._repo_lock = None

    def _step(self, flush: bool = False) -> bool:
        """One batch: record finished jobs, decide what they unblock, and
        write `dvc.lock` when due (``flush``: now)."""
        finished = self._journal()
        ready, self.ready = self.ready, []
        due = flush or time.monotonic() >= self._next_write
        if not finished and not ready:
            if self.unwritten and due:
                self._write_locks()
                self._unlock()
                return True
            return False
        self._lock()
        settled: list[str] = []
        try:
            # finished stages hold their rwlock paths since their "run" verdict
            self.unwritten += self._record(finished)
            self.settled.update(finished)
            for rule in finished:
                self.running.discard(rule)
                if rule not in self.failed:
                    self.report.finished(rule)
            for rule in finished:
                ready += self._release(rule)
            settled = self._decide(ready)
            self.journalled += finished
            if due:
                self._write_locks()
            else:
                self._refresh_journal(finished)
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
            if rule not in self._seen and self._fingerprint(rule):
                self._seen.add(rule)
                self.prefetch.submit(rule, self.stages[rule][1])
        # recorded once their outputs are hashed (in parallel, `prefetch`)
        return [r for r in new if r in self._seen and self.prefetch.done(r)]

    def _fingerprint(self, rule: str) -> bool:
        """Whether ``rule``'s entry is this run's job finishing. An entry of
        another run (a crashed run's job, still alive) is dropped: only this
        run's job of the stage may finish it. A job.sh entry has no
        fingerprint (no hashing in sh): taken here, as soon as it is seen,
        before any lock (nothing writes the stage's deps or outs in between:
        its downstream waits for this coordinator), and made durable, so a
        crash from now on replays it (`replay_journal`)."""
        path = self._dir / rf.JOURNAL / f"{rule}.json"
        entry = rf.read_json(path)
        if entry is None:
            return False
        if entry.get("token") != self.token:
            self._drop_foreign(path)
            return False
        if "fingerprint" not in entry:
            address, stage, _ = self.stages[rule]
            entry["fingerprint"] = dvcops.fingerprint(stage, address)
            rf.write_json(path, entry, durable=True)
        return True

    def _drop_foreign(self, path: Path) -> None:
        """Set aside, then delete, unless this run's job renamed its own
        entry over the foreign one in between (then it goes back)."""
        aside = path.with_name(f".{path.stem}.{os.urandom(4).hex()}.foreign")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        if (rf.read_json(aside) or {}).get("token") == self.token:
            os.rename(aside, path)
            return
        aside.unlink()
        log.warning("paraffin: dropped a journal entry of %s left by another run", path.stem)

    def _record(self, rules: list[str]) -> list[Any]:
        recorded = []
        for rule in rules:
            self._alive()
            address, stage, _ = self.stages[rule]
            try:
                self.prefetch.apply(rule)
                dvcops.finish(stage, self.prefetch, rule)
            except Exception as exc:  # noqa: BLE001 - reported, and downstream stops
                self._fail_below(rule, f"stage '{address}' ran but DVC cannot record it: {exc}")
                continue
            finally:
                self.prefetch.discard(rule)
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

    def _decide(self, ready: list[str]) -> list[str]:
        """Verdicts for ``ready``, each written as soon as it is known (the
        outputs it may read are committed already); a stage settled without a
        command (unchanged, restored, frozen) releases its downstream at once.
        Each stage's rwlock paths are taken before DVC looks at it and kept if
        its command is to run; returns the rules settled otherwise."""
        settled, queue = [], list(ready)
        self.held.change(self._paths(queue))
        while queue:
            self._alive()
            rule = queue.pop(0)
            address, stage, planned = self.stages[rule]
            # the planned status holds only if nothing upstream ran since
            changed = None if rule in self.downstream_of_stale else planned
            settled.append(rule)
            try:
                decision = dvcops.prepare(stage, changed)
            except Exception as exc:  # noqa: BLE001 - DVC's error, shown by the job
                self._fail_below(rule, f"stage '{address}': {exc}")
                continue
            self.counts[decision.action] += 1
            if decision.action == "run":
                settled.pop()
                self.running.add(rule)
                self._verdict(rule, dvcops.run_verdict(stage, address) | {"token": self.token})
                continue
            self._verdict(rule, {"action": "done", "message": decision.message})
            self.report.decided(rule, decision.kind, decision.message)
            if decision.recorded:
                self.unwritten.append(stage)
                self.counts["recorded"] += 1
            released = self._release(rule)
            self.held.change(self._paths(released))
            queue += released
        return settled

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
        if self.prefetch is not None:  # what the parallel hashing did (tests, benchmarks)
            beat["hashed"] = dict(self.prefetch.counts)
        rf.write_json(self._dir / rf.HEARTBEAT, beat)


def replay_journal(root: Path, stages: Mapping[str, Any]) -> list[str]:
    """Record the stages a crashed run finished but did not record, when the
    workspace still shows what they left (`dvcops.journal_matches`); the rest
    are dropped, and DVC's status decides whether they run again (returned:
    their addresses, for `dvc_session` to say so). Runs under the repo lock."""
    journal = Path(rf.run_dir(root), rf.JOURNAL)
    if not journal.is_dir():
        return []
    recorded, dropped, files = [], [], sorted(journal.glob("*.json"))
    for path in files:
        entry = rf.read_json(path) or {}
        address = entry.get("address")
        stage = stages.get(address)
        if stage is None or not dvcops.journal_matches(stage, address, entry):
            dropped.append(str(address))
            continue
        try:
            dvcops.finish(stage)
        except Exception as exc:  # noqa: BLE001 - then DVC's status reruns it
            log.warning("paraffin: cannot record %s: %s", address, exc)
            dropped.append(str(address))
            continue
        recorded.append(stage)
    if recorded:
        lockwrite.dump_stages(recorded)
        log.warning("paraffin: recorded %d stages an interrupted run finished", len(recorded))
    for path in files:
        path.unlink(missing_ok=True)
    return dropped
