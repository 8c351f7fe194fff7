"""One Snakemake job of the `paraffin` runner: run one stage's command, as DVC would.

    python -m paraffin_export.runtime.job RULE      (from the DVC root)

Rules start `job.sh`, which sources the verdict compiled to sh
(`paraffin_export.jobscript`) and hands over to this module when no verdict
is there yet: this is the reference the compiled scripts follow, and the one
that waits on the coordinator's heartbeat.

No DVC here, by design: a DVC process costs about a second of CPU before it
does anything, more than many stages. DVC's decisions (is the stage still
changed? can the run cache restore it? what to record in `dvc.lock`) are
made by the coordinator in the main Snakemake process
(`paraffin_export.coordinator`), with one DVC repo for the whole run. The job:

1. waits for its verdict (`runfiles`), which the coordinator writes once the
   stage's upstream work is recorded and DVC has looked at the stage;
2. for "run": runs each command in the stage's wdir with ``$SHELL -c`` (no
   rc files) and DVC_ROOT/DVC_STAGE set, exactly as `dvc repro` runs it;
3. checks that the declared outputs exist, and journals the stage as done
   (fsynced) for the coordinator to record in `dvc.lock`.
"""

from __future__ import annotations

import os
import sys
import time

from . import messages as rf

# A job's own start-up is on every stage's path: standard modules that cost
# milliseconds to import (subprocess, pathlib, typing, shutil, socket) are
# left out (the idiom mypy and pyright read as typing.TYPE_CHECKING)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
SIGTERM = 15

SHELL_FLAGS = {"zsh": ["--no-rcs"], "bash": ["--noprofile", "--norc"], "fish": ["--no-config"]}


class JobError(Exception):
    """The job failed; the message is the last line of its log."""


def wait_verdict(root: str, rule: str) -> dict[str, Any]:
    """Poll for the verdict; fail when the coordinator is gone. Snakemake
    starts a job only once its upstream jobs ended, so the wait is the
    coordinator recording them (tens of ms): a 10 ms poll is cheap and keeps
    the latency it adds to every dependency small."""
    path = os.path.join(rf.run_dir(root), rf.VERDICT, f"{rule}.json")
    delay, checked = 0.002, time.monotonic()
    while True:
        verdict = rf.read_json(path)
        if verdict is not None:
            return verdict
        if time.monotonic() - checked > rf.HEARTBEAT_EVERY:
            _check_coordinator(root)
            checked = time.monotonic()
        time.sleep(delay)
        delay = min(delay * 1.5, 0.01)


def run_token(root: str) -> str:
    """The token of the run this job belongs to: job.sh read it when the job
    started; the coordinator's token file otherwise."""
    token = os.environ.get("PARAFFIN_JOB_TOKEN")
    return run_token_now(root) if token is None else token


def _check_coordinator(root: str) -> None:
    token = run_token(root)
    if token and run_token_now(root) != token:
        raise JobError(rf.FOREIGN)
    beat = rf.read_json(os.path.join(rf.run_dir(root), rf.HEARTBEAT))
    if beat is None:
        raise JobError(
            "no paraffin coordinator is running: start the Snakefile with plain `snakemake`"
            " (not --no-hooks), or export with `--runner dvc`"
        )
    if beat.get("state") == "failed":
        raise JobError(f"the paraffin coordinator failed: {beat.get('error')}")
    if beat.get("state") != "running" or time.time() - beat["time"] > rf.STALE_AFTER:
        raise JobError(
            f"the paraffin coordinator ({beat.get('host')}, pid {beat.get('pid')}) stopped"
            " answering; finished stages are journalled and recorded by the next run"
        )


def run_token_now(root: str) -> str:
    """The token of the coordinator running now ("" when none started)."""
    try:
        with open(os.path.join(rf.run_dir(root), rf.TOKEN), encoding="utf-8") as handle:
            return (handle.read().split() or [""])[0]
    except FileNotFoundError:
        return ""


def shell_command(cmd: str) -> list[str]:
    """DVC's `stage/run.py:_make_cmd`: the user's shell, without rc files."""
    executable = os.environ.get("SHELL") or "/bin/sh"
    name = os.path.basename(executable).lower()
    return [executable, *SHELL_FLAGS.get(name, []), "-c", cmd]


def remove(path: str) -> None:
    """`Output.remove`: the path and everything under it."""
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def spawn(argv: list[str], cwd: str, env: dict[str, str]) -> int:
    """``subprocess.call(argv, cwd=cwd, env=env)``: the exit code, or minus
    the signal that killed it. ``posix_spawn`` has no cwd, so this process
    (one thread) steps into ``cwd`` around the spawn. Interrupted while
    waiting, it terminates the command first, as `dvc repro` does."""
    here = os.getcwd()
    os.chdir(cwd)
    try:
        pid = os.posix_spawnp(argv[0], argv, env)
    finally:
        os.chdir(here)
    try:
        _, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, SIGTERM)
        os.waitpid(pid, 0)
        raise
    return os.waitstatus_to_exitcode(status)


def run_commands(verdict: dict[str, Any], root: str) -> None:
    env = dict(os.environ)
    env.setdefault("DVC_ROOT", os.path.realpath(root))
    env["DVC_STAGE"] = verdict["address"]
    print(f"Running stage '{verdict['address']}':", flush=True)
    for cmd in verdict["cmd"]:
        print(f"> {cmd}", flush=True)
        code = spawn(shell_command(cmd), verdict["wdir"], env)
        if code != 0:
            raise JobError(
                f"failed to reproduce '{verdict['address']}': failed to run: {cmd},"
                f" exited with {code}"
            )


def run(root: str, rule: str) -> None:
    verdict = wait_verdict(root, rule)
    if verdict["action"] == "done":
        print(verdict.get("message", ""), flush=True)
        return
    if verdict["action"] != "run":
        raise JobError(verdict.get("message") or f"unknown verdict {verdict['action']!r}")
    if verdict.get("token") is not None and verdict["token"] != run_token(root):
        raise JobError(rf.FOREIGN)
    started = os.path.join(rf.run_dir(root), rf.STARTED, rule)
    if os.path.exists(started):  # a Snakemake retry: clean up as `dvc repro` does before a run
        for path in verdict["remove"]:
            remove(path)
    os.close(os.open(started, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
    run_commands(verdict, root)
    missing = [p for p in verdict["outs"] if not os.path.lexists(p)]
    if missing:
        raise JobError(f"output {os.path.relpath(missing[0], root)!r} does not exist")
    entry = {
        "address": verdict["address"],
        "cmd": verdict["cmd"],
        "host": os.uname().nodename,  # socket.gethostname(), without importing socket
        "fingerprint": rf.fingerprint(verdict["deps"] + verdict["outs"]),
    }
    if verdict.get("token") is not None:
        entry["token"] = verdict["token"]
    rf.write_json(os.path.join(rf.run_dir(root), rf.JOURNAL, f"{rule}.json"), entry, durable=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        usage = "usage: python -m paraffin_export.runtime.job RULE (from the DVC root)"
        print(usage, file=sys.stderr)
        return 2
    try:
        run(os.getcwd(), args[0])
    except JobError as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        _unlist(os.getcwd(), args[0])
    return 0


def _unlist(root: str, rule: str) -> None:
    """The job's entry in ``jobs/`` (written by job.sh) goes with the job."""
    path = os.path.join(rf.run_dir(root), rf.JOBS, rule)
    try:
        with open(path, encoding="utf-8") as handle:
            mine = handle.read().split()[1:2] == [str(os.getpid())]
    except (FileNotFoundError, ValueError):
        return
    if mine:
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
