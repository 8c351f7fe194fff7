"""What a run of the `paraffin` runner tells its user, from the main Snakemake process.

Always (`paraffin run` and a plain `snakemake -j N` alike), at the end, through
Snakemake's logger: a report per failed stage (address, exit code, command,
the last lines of its log) and one summary line counting the stages that ran,
that DVC found unchanged once their upstream had run, that were restored from
the run cache, that were frozen and only verified, and that failed.

Under `paraffin run` (which sets ``PARAFFIN_SHOW_STAGES=1`` and silences
Snakemake's per-job messages unless `-v`), also what `dvc repro` prints, as
it happens: each finished stage's `Running stage 'x':` and `> command` lines
and its output (from its log), DVC's skip line for a stage with nothing to
do, and on a terminal a live progress line (rich).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import paths
from ..naming import log_names
from ..paths import SHOW_STAGES
from .verdict_script import started_in

TAIL = 20
# the last line a failed command leaves in its job log (verdict_script)
_FAILED = re.compile(
    r"^ERROR: failed to reproduce '(?P<address>.*)': failed to run: (?P<cmd>.*),"
    r" exited with (?P<code>-?\d+)$"
)
KINDS = ("ran", "unchanged", "restored", "frozen")
JOB_SCRIPT = "paraffin_export/runtime/job.sh"


class RunReport:
    def __init__(self, root: str, address: Mapping[str, str], logs: Mapping[str, str]) -> None:
        """``address``: rule -> stage address for the rules with a job in
        this run; ``logs``: rule -> job log, relative to the DVC root."""
        self.root, self.address, self.logs = root, address, logs
        self.counts = dict.fromkeys(KINDS, 0)
        self.failed: list[str] = []
        self._started = time.monotonic()
        self._console: Any = None
        self._live: Any = None
        self._token = ""
        self._began: set[str] = set()  # rules whose job started its command
        if os.environ.get(SHOW_STAGES) in ("1", "verbose"):
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False, soft_wrap=True)

    @classmethod
    def for_stages(cls, root: str, address: Mapping[str, str]) -> RunReport:
        """The report of the rules ``address`` maps, with their logs named as
        the generated Snakefile names them."""
        names = log_names(address.values())
        return cls(root, address, {r: paths.job_log(names[a]) for r, a in address.items()})

    def start(self, token: str = "") -> None:
        """``token``: the run's (its jobs' started markers hold it)."""
        self._token = token
        if self._console is not None and self._console.is_terminal:
            from rich.live import Live

            self._live = Live(
                get_renderable=self._progress,
                console=self._console,
                transient=True,
                refresh_per_second=4,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def decided(self, rule: str, kind: str, message: str) -> None:
        """DVC settled ``rule`` without its command (``kind``: unchanged,
        restored, frozen); `dvc repro` prints ``message`` then."""
        self.counts[kind] += 1
        self._print(message)

    def finished(self, rule: str) -> None:
        """``rule``'s command ran and succeeded: show its log, as `dvc repro`
        would have shown it while it ran."""
        self.counts["ran"] += 1
        if self._console is not None:
            self._print(self._read(rule).rstrip("\n"))

    def failures(self, started: set[str]) -> list[str]:
        """One report per job that started in this run and did not finish."""
        reports = []
        for rule in self.address:
            if rule in started:
                self.failed.append(rule)
                reports.append(self._failure(rule))
        return reports

    def summary(self, recorded: int, writes: int) -> str:
        c = self.counts
        parts = [
            f"{c['ran']} ran",
            f"{c['unchanged']} unchanged once their upstream ran",
            f"{c['restored']} restored from the run cache",
        ]
        if c["frozen"]:
            parts.append(f"{c['frozen']} frozen (outputs verified)")
        parts.append(f"{len(self.failed)} failed")
        total = len(self.address)
        # below a failed stage, or stopped: without it the counts do not add up
        left = (
            total - len(self.failed) - sum(c[k] for k in ("ran", "unchanged", "restored", "frozen"))
        )
        if left > 0:
            parts.append(f"{left} not run")
        elapsed = time.monotonic() - self._started
        return (
            f"paraffin: {total} stage{'' if total == 1 else 's'} to run: {', '.join(parts)};"
            f" {recorded} recorded in {writes} dvc.lock writes ({elapsed:.1f} s)"
        )

    def _failure(self, rule: str) -> str:
        log = self.logs.get(rule, "")
        lines = self._read(rule).splitlines()
        match = next((m for m in map(_FAILED.match, reversed(lines)) if m), None)
        head = f"paraffin: stage '{self.address[rule]}'"
        if match:
            head += f" failed with exit code {match['code']}\n  command: {match['cmd']}"
        else:  # killed (Ctrl-C, a cluster's time limit) before it could say why
            head += " did not finish"
        tail = lines[-TAIL:]
        body = "".join(f"\n  | {line}" for line in tail) or "\n  (empty)"
        return f"{head}\n  log: {log} (last {len(tail)} lines){body}"

    def _read(self, rule: str) -> str:
        try:
            path = os.path.join(self.root, self.logs[rule])
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except (KeyError, OSError):
            return ""

    def _print(self, text: str) -> None:
        if self._console is not None and text:
            # markup off: stage output and commands are data
            self._console.print(text, markup=False, emoji=False, highlight=False)

    def _progress(self) -> Any:
        from rich.text import Text

        done = sum(self.counts.values()) + len(self.failed)
        running = max(self._started_count() - self.counts["ran"], 0)
        left = max(len(self.address) - done - running, 0)
        elapsed = int(time.monotonic() - self._started)
        return Text(
            f"paraffin: {done} done, {running} running, {left} left"
            f" ({elapsed // 60}:{elapsed % 60:02d})",
            style="bold",
        )

    def _started_count(self) -> int:
        # a marker that holds this run's token keeps it: only the others are read again
        waiting = [rule for rule in self.address if rule not in self._began]
        self._began |= started_in(self.root, self._token, waiting)
        return len(self._began)


class _OnlyParaffin(logging.Filter):
    """Snakemake's info messages ("Select jobs to execute...", "Touching
    output file ...") for jobs that may then do nothing: the stages' own lines
    replace them. Warnings, errors and paraffin's own lines pass, except the
    CalledProcessError of a failed job (`. job.sh` in sh): the failure
    report names the stage, its command, exit code and log instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a structured event: not ours
            return record.levelno >= logging.WARNING
        if record.levelno >= logging.WARNING:
            return not (JOB_SCRIPT in message and "CalledProcessError" in message)
        return message.startswith("paraffin")


def quiet_snakemake() -> None:
    """Under `paraffin run` without -v, in the main Snakemake process."""
    if os.environ.get(SHOW_STAGES) != "1":
        return
    try:
        from snakemake.logging import logger
    except ImportError:  # pragma: no cover - only imported from Snakefiles
        return
    if not any(isinstance(f, _OnlyParaffin) for f in logger.filters):
        logger.addFilter(_OnlyParaffin())


def announce_plan(
    stale: int, total: int, changed: int, forced: bool = False, dry_run: Sequence[str] = ()
) -> None:
    """How many stages the plan gives a job, said once before the run; under
    `-n` also which ones, since Snakemake's own job list is hidden then."""
    line = f"paraffin: DVC reports {stale} of {total} stages to run"
    if forced:
        # every selected stage runs: "changed"/"below them" would be untrue
        line = f"paraffin: {stale} of {total} stages to run, forced (as `dvc repro -f`)"
    elif stale > changed:
        line += (
            f" ({changed} changed; {stale - changed} below them run only if DVC finds them"
            " changed once their upstream ran)"
        )
    log_line(line)
    for address in dry_run:
        log_line(f"paraffin: dry run: would run stage '{address}'")


# set in the coordinator's process (`coordmain`): its lines go to Snakemake's
relay: Callable[[str, bool], None] | None = None


def log_line(line: str, error: bool = False) -> None:
    """A line in Snakemake's log (and so on the terminal), from inside a Snakefile."""
    if relay is not None:
        relay(line, error)
        return
    try:
        from snakemake.logging import logger
    except ImportError:  # pragma: no cover - only imported from Snakefiles
        return
    (logger.error if error else logger.info)(line)
