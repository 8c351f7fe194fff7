"""The coordinator process (`coordproc` starts it): the plan, then the run.

It imports DVC while Snakemake parses the Snakefile, then answers three
requests, in this order, one JSON line each way:

- ``plan``: what `Plan` asked DVC in-process before: the crashed run's jobs
  stopped and its journal replayed, every stage's status under one repo lock,
  the structure checked against the Snakefile's, the markers of stale stages
  deleted; answers the stale rules. Snakemake's main process holds the run
  lock (`runlock`) while it asks.
- ``start`` (`onstart:`): the `paraffin` runner's coordinator starts, on the
  repo and stage objects the plan opened.
- ``stop`` (`onsuccess:`/`onerror:`): it records what finished, reports the
  failed stages and the summary, and answers the run's errors; the process
  then ends.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

PR_SET_PDEATHSIG = 1  # linux/prctl.h
HOOK_ENV = "PARAFFIN_TEST_COORDINATOR_HOOK"  # a Python file run before the first request


class _Channel:
    """The JSON lines to Snakemake's process, on the stdout this process was
    given; fd 1 itself becomes stderr, so nothing else can print into it."""

    def __init__(self) -> None:
        self._out: TextIO = os.fdopen(os.dup(1), "w", encoding="utf-8")
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()


class _Relay(logging.Handler):
    """Log records, to be logged again by the same logger in Snakemake's process."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self._channel.send({"log": [record.name, record.levelno, text]})
        except Exception:  # noqa: BLE001 - logging must not end the run
            self.handleError(record)


def main() -> None:
    """``-c`` entry point; argv: sys.path (JSON), the parent's pid, whether
    the parent's main thread started it, the parent's root log level, its
    command line."""
    parent, from_main, level = int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
    _end_with(parent, from_main)
    from . import owner

    owner.adopt(parent, sys.argv[5])
    # a handler, not SIG_IGN: what it starts (the run's watchdog) must get
    # the default back, and an ignored SIGTERM would be inherited
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _unheard)
    channel = _Channel()
    root_logger = logging.getLogger()
    root_logger.handlers[:] = [_Relay(channel)]
    root_logger.setLevel(level)
    from . import report

    report.relay = lambda line, error=False: channel.send({"line": [line, error]})
    _warm()
    hook = os.environ.get(HOOK_ENV)
    if hook:  # tests: a kill or a full disk lands at a chosen point in the coordinator
        exec(compile(Path(hook).read_text(), hook, "exec"), {"__name__": "paraffin_test_hook"})
    run = _Run()
    while True:
        raw = sys.stdin.readline()
        if not raw:  # Snakemake's process is gone or asks nothing more
            break
        message = json.loads(raw)
        try:
            answer: dict[str, Any] = {"reply": run.handle(message)}
        except BaseException as exc:  # noqa: BLE001 - said in Snakemake's process
            answer = _failure(exc)
        channel.send(answer)
        if message["op"] == "stop":
            break
    os._exit(0)  # without collecting DVC's objects: nothing is left to write


def _unheard(signum: int, frame: object) -> None:
    """Ctrl-C and SIGTERM are Snakemake's to act on: it asks for the stop."""


def _end_with(parent: int, from_main: bool) -> None:
    """Die with Snakemake's process, even SIGKILLed. The kernel's signal
    follows the thread that started this process: only its main thread's
    lifetime is the process's. Otherwise stdin's end-of-file ends it."""
    if from_main and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it ended before the signal was armed
        os._exit(0)


def _warm() -> None:
    """What the plan and the coordinator need, imported while Snakemake parses."""
    import dvc.repo  # noqa: F401
    import dvc.repo.reproduce  # noqa: F401

    from . import coordinator, session  # noqa: F401


def _failure(exc: BaseException) -> dict[str, Any]:
    from .failures import user_error

    known = user_error(exc) if isinstance(exc, Exception) else None
    if known is not None:
        return {"refused": list(known)}
    return {"bug": "".join(traceback.format_exception(exc)).rstrip()}


@dataclass(frozen=True)
class _Ask:
    """The plan request, decoded once: what `Plan` knows of the Snakefile."""

    root: Path
    address: dict[str, str]  # rule -> stage address
    upstream: dict[str, tuple[str, ...]]  # rule -> upstream rules
    runner: str
    force: bool
    dryrun: bool
    export: tuple[str, str]

    @classmethod
    def decode(cls, message: dict[str, Any]) -> _Ask:
        return cls(
            Path(message["root"]),
            message["address"],
            {rule: tuple(up) for rule, up in message["upstream"].items()},
            message["runner"],
            message["force"],
            message["dryrun"],
            (message["export"][0], message["export"][1]),
        )


class _Run:
    """The state between requests: the plan's session, then the coordinator."""

    def __init__(self) -> None:
        self.session: Any = None
        self.stale: frozenset[str] = frozenset()
        self.ask: _Ask | None = None
        self.coordinator: Any = None

    def handle(self, message: dict[str, Any]) -> Any:
        op = message["op"]
        if op == "plan":
            self.ask = _Ask.decode(message)
            return self.plan(self.ask)
        if op == "start":
            return self.start()
        if op == "stop":
            return self.stop()
        raise ValueError(f"unknown request {op!r}")

    def plan(self, ask: _Ask) -> list[str]:
        from .. import statuscache
        from ..paths import ensure_dirs, marker
        from ..staleness import changed_itself, stale_rules
        from . import runlock
        from .plan import check_structure
        from .report import announce_plan
        from .session import open_session

        root, address, upstream = ask.root, ask.address, ask.upstream
        keep = ask.runner == "paraffin"
        replay = keep and not ask.dryrun
        before = statuscache.observe(root)
        if replay:
            runlock.stop_orphans(root)
        above = {address[r]: [address[u] for u in upstream[r] if u in address] for r in address}
        session = open_session(root, address.values(), keep=keep, replay=replay, upstream=above)
        self.session = session if keep else None
        states = session.states
        statuscache.record_changed(root, {a: st.changed for a, st in states.items()}, before)
        check_structure(address, upstream, ask.export, session.addresses, session.edges)
        stale = frozenset(address) if ask.force else stale_rules(address, upstream, states)
        ensure_dirs(root)
        for rule in stale:
            Path(root, marker(rule)).unlink(missing_ok=True)
        changed = sum(1 for r in stale if changed_itself(states[address[r]]))
        dry = [a for r, a in address.items() if r in stale] if ask.dryrun else []
        announce_plan(len(stale), len(address), changed, ask.force, dry)
        self.stale = stale
        return [rule for rule in address if rule in stale]

    def start(self) -> None:
        """`Plan.start` of the thread days: the coordinator of the stale stages."""
        from ..naming import log_names
        from ..paths import job_log
        from .coordinator import Coordinator
        from .report import RunReport

        session, ask = self.session, self.ask
        if session is None or ask is None:
            return
        address = ask.address
        rule_of = {a: rule for rule, a in address.items()}
        # in `dvc repro` order: the order the coordinator writes dvc.lock entries in
        stages = {
            rule_of[a]: (a, session.stages[a], session.states[a].changed)
            for a in session.order
            if rule_of[a] in self.stale
        }
        names = log_names(address.values())
        report = RunReport(
            str(ask.root),
            {rule: address[rule] for rule in stages},
            {rule: job_log(names[address[rule]]) for rule in stages},
        )
        order = [session.stages[a] for a in session.order]
        self.coordinator = Coordinator(
            ask.root, session.repo, stages, ask.upstream, report, order=order, force=ask.force
        )
        # DVC and the repo live until exit: frozen, the collections during the
        # run stop walking them (with 400 tiny stages, garbage collection took
        # 6.2 s of 12 s of CPU), and the young ones run less often
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        self.coordinator.start()

    def stop(self) -> list[str]:
        """Record what finished, report failed stages and the summary; the errors."""
        from . import lockfile
        from .report import log_line
        from .verdict_script import started_in

        coordinator = self.coordinator
        if coordinator is None or self.ask is None:
            return []
        self.coordinator = None
        errors: list[str] = coordinator.stop()
        lockfile.remember_written(str(self.ask.root))  # the next run's plan reads them at once
        unfinished = started_in(str(self.ask.root), coordinator.token, coordinator.stages)
        for text in coordinator.report.failures(unfinished - coordinator.settled):
            log_line(text, error=True)
        counts = coordinator.counts
        if coordinator.stages:  # a no-op run said "DVC reports 0 of N" already
            log_line(coordinator.report.summary(counts["recorded"], counts["batches"]))
        return errors
