"""What the coordinator tells a job, compiled to POSIX sh: its verdict and the heartbeat.

A job (`job.sh`, the `paraffin` runner's only job) waits for
``.paraffin/run/verdict/RULE.sh`` and sources it: print what DVC said, or run
the stage's commands in its wdir with DVC_ROOT/DVC_STAGE set, check the
declared outputs, and journal the stage. While it waits it sources
``.paraffin/run/heartbeat`` now and then, to stop when the coordinator is
gone. Every value from the project (addresses, commands, paths) is
shell-quoted; rule names are identifiers (`naming.make_identifiers`).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..paths import FOREIGN, RUN_DIR, STARTED
from . import owner

SCRIPT = Path(__file__).with_name("job.sh")
NO_VERDICT = "this job's verdict is not in the batch its verdict file names"


def compile_verdict(rule: str, verdict: Mapping[str, Any], root: str) -> str:
    """The script for ``verdict`` (a `dvc_steps.run_verdict` or a done/fail one)."""
    q = shlex.quote
    if verdict["action"] == "done":
        return f"printf '%s\\n' {q(verdict.get('message', ''))}\nexit 0\n"
    if verdict["action"] != "run":
        message = verdict.get("message") or f"unknown verdict {verdict['action']!r}"
        return f"printf 'ERROR: %s\\n' {q(message)} >&2\nexit 1\n"
    address = verdict["address"]
    running = f"Running stage '{address}':"
    started = q(f"{RUN_DIR}/{STARTED}/{rule}")
    # the quotes and `$` in project strings are data, not shell
    lines = ["# shellcheck shell=sh disable=SC2016,SC2089,SC2090"]
    token = verdict.get("token")
    if token is not None:  # a job of an earlier run never runs this run's verdict
        lines.append(
            f'if [ "$paraffin_token" != {q(token)} ]; then'
            f" printf 'ERROR: %s\\n' {q(FOREIGN)} >&2; exit 1; fi"
        )
    # the marker holds the run's token: markers stay from run to run (no file
    # made and freed per stage), and only this run's says "started"
    mark = q(token or "started")
    if verdict["remove"]:  # a Snakemake retry: clean up as `dvc repro` does before a run
        lines.append(f"paraffin_started=; read -r paraffin_started 2>/dev/null <{started}")
        remove = f"rm -rf -- {_words(verdict['remove'])}"
        lines.append(f'if [ "$paraffin_started" = {mark} ]; then {remove}; fi')
    lines += [
        f"printf '%s\\n' {mark} >{started} || exit 1",
        f'if [ -z "${{DVC_ROOT+set}}" ]; then DVC_ROOT={q(os.path.realpath(root))}; fi',
        f"DVC_STAGE={q(address)}",
        "export DVC_ROOT DVC_STAGE",
        f"printf '%s\\n' {q(running)}",
    ]
    for cmd in verdict["cmd"]:
        failed = f"failed to reproduce '{address}': failed to run: {cmd}"
        lines.append(f"printf '%s\\n' {q('> ' + cmd)}")
        run = f"paraffin_run {q(verdict['wdir'])} {q(cmd)}"
        lines.append(f"{run} || paraffin_failed $? {q(failed)}")
    for out in verdict["outs"]:
        lines.append(f"paraffin_check_out {q(out)} {q(os.path.relpath(out, root))}")
    entry = {"address": address, "cmd": verdict["cmd"]}
    if token is not None:
        entry["token"] = token
    lines.append(f"paraffin_journal {q(json.dumps(entry, sort_keys=True))} || exit 1")
    return "\n".join(lines) + "\nexit 0\n"


class Verdicts:
    """The verdicts of one run, written into ``folder`` a batch at a time:
    one script per batch (a `case` on the job's rule) and a hard link to it
    per rule, where a file per verdict made an inode and freed one per stage
    and run (docs/performance.md, item 17). A job sees its verdict whole or
    not at all, as before: the batch is complete before any link names it.
    Where hard links fail (or a rule has one already), the rule's own script
    is written instead."""

    def __init__(self, folder: Path, root: str) -> None:
        self.folder, self.root = folder, root
        self._pending: dict[str, str] = {}  # rule -> its compiled verdict
        self._since = 0.0  # when the oldest pending verdict was given
        self._batches = 0

    def give(self, rule: str, verdict: Mapping[str, Any]) -> None:
        if not self._pending:
            self._since = time.monotonic()
        self._pending[rule] = compile_verdict(rule, verdict, self.root)

    def due(self, most: int = 8, wait: float = 0.005) -> bool:
        """Whether the pending verdicts should go out now: ``most`` of them,
        or the oldest given ``wait`` seconds ago (a job may be waiting on it)."""
        return bool(self._pending) and (
            len(self._pending) >= most or time.monotonic() - self._since >= wait
        )

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if len(pending) > 1:
            self._batches += 1
            batch = self.folder / f".batch-{self._batches}.sh"
            write_atomic(batch, _batch_script(pending))
            for rule in list(pending):
                try:
                    os.link(batch, self.folder / f"{rule}.sh")
                except OSError:
                    continue
                del pending[rule]
        for rule, script in pending.items():
            write_atomic(self.folder / f"{rule}.sh", script)


def _batch_script(scripts: Mapping[str, str]) -> str:
    """One script for several rules: each job runs its own rule's branch."""
    # job.sh sets paraffin_rule; the branches are `compile_verdict`'s scripts
    lines = [
        "# shellcheck shell=sh disable=SC2016,SC2089,SC2090,SC2154",
        'case "$paraffin_rule" in',
    ]
    for rule, script in scripts.items():
        lines += [f"{shlex.quote(rule)})", script.rstrip("\n"), ";;"]
    lines.append(f"*) printf 'ERROR: %s\\n' {shlex.quote(NO_VERDICT)} >&2; exit 1 ;;")
    return "\n".join([*lines, "esac"]) + "\n"


def started_in(root: str, token: str, rules: Iterable[str]) -> set[str]:
    """The rules among ``rules`` whose job started its command in run
    ``token`` (and maybe ended): its marker holds that token."""
    folder = os.path.join(root, RUN_DIR, STARTED)
    found = set()
    for rule in rules:
        try:
            with open(os.path.join(folder, rule), encoding="utf-8", errors="replace") as marker:
                if marker.readline().rstrip("\n") == token:
                    found.add(rule)
        except OSError:
            continue
    return found


def _words(paths: list[str]) -> str:
    return " ".join(shlex.quote(p) for p in paths)


def heartbeat(state: str, error: str | None = None, extra: Mapping[str, str] | None = None) -> str:
    """The coordinator's heartbeat as `job.sh` reads it: ``state`` is
    "running", "stopped" or "failed" (with ``error``); the time is whole
    seconds since the epoch, as `date +%s` prints it; ``extra``: more fields
    (what the parallel hashing did), for `read_heartbeat`."""
    q = shlex.quote
    fields = {
        "state": state,
        "time": str(int(time.time())),
        "host": socket.gethostname(),
        "pid": str(owner.pid()),
        "error": error or "",
        **(extra or {}),
    }
    return "".join(f"paraffin_coordinator_{k}={q(v)}\n" for k, v in fields.items())


def read_heartbeat(path: str | os.PathLike[str]) -> dict[str, str]:
    """The fields of a heartbeat file ({} when there is none), as `heartbeat`
    wrote them: ``state``, ``time``, ``host``, ``pid``, ``error`` and extras."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return {}
    fields = {}
    for line in lines:
        name, _, value = line.partition("=")
        words = shlex.split(value)
        fields[name.removeprefix("paraffin_coordinator_")] = words[0] if words else ""
    return fields
