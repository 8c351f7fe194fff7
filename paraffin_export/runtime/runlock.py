"""One Snakemake run of a project at a time, and never beside a crashed run's jobs.

Snakemake's own lock (`.snakemake/locks`) is taken after the DAG is built,
and building it is where the plan deletes markers and the `paraffin` runner
replays the journal: a second `snakemake` started beside a run would do both
before Snakemake refuses it. So the main Snakemake process takes this lock
first (an flock, released by the kernel however the process ends) and keeps
it for the whole run.

A run killed hard (SIGKILL, the OOM killer, SIGHUP on a closed terminal) can
leave its jobs running. Each job lists itself in ``jobs/`` and the run's
watchdog (`watch`; a job on another host: its own) stops it once its
coordinator is gone (`job.sh`); a new run replaces the token file at once
(the watchdogs stop their jobs within a second or two),
waits for the listed jobs to end, and refuses to start, naming them, if they
do not.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .. import paths
from ..atomic import write_atomic
from ..errors import ProjectError
from . import owner
from .verdict_script import SCRIPT

log = logging.getLogger(__name__)
ORPHAN_WAIT = 30.0  # seconds: the watchdogs poll once a second
ORPHAN_WAIT_VAR = "PARAFFIN_ORPHAN_WAIT"  # another wait, in seconds (tests: 1)
REMOTE_ALIVE = 5.0  # a job on another host refreshes its entry every second


def take(root: Path) -> int:
    """Lock the project for this process's run; returns the lock's descriptor
    (kept open until the process exits)."""
    folder = Path(paths.run_dir(root))
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / paths.RUN_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ProjectError(
            f"another Snakemake run of this project is in progress (pid {holder})",
            hint="wait for it to end; nothing was changed",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{owner.pid()} on {socket.gethostname()}\n".encode(), 0)
    return fd


def stop_orphans(root: Path, wait: float | None = None) -> None:
    """Stop the jobs an earlier run left alive; raise if they outlive ``wait``
    seconds (default: $PARAFFIN_ORPHAN_WAIT, else `ORPHAN_WAIT`)."""
    if wait is None:
        wait = orphan_wait()
    folder = Path(paths.run_dir(root))
    if (folder / paths.TOKEN).exists():
        # no job of any earlier run still matches it: their watchdogs stop them
        write_atomic(folder / paths.TOKEN, f"stopped {owner.pid()} {socket.gethostname()}\n")
    deadline, told = time.monotonic() + wait, False
    while True:
        alive = _alive_jobs(folder / paths.JOBS)
        if not alive:
            return
        names = ", ".join(f"{rule} (pid {pid} on {host})" for rule, pid, host in alive)
        if time.monotonic() > deadline:
            raise ProjectError(
                f"jobs of an interrupted run of this project are still running: {names}",
                hint=f"stop them (they may still be writing outputs), then run again"
                f" (or wait longer: ${ORPHAN_WAIT_VAR} seconds, now {wait:g})",
            )
        if not told:  # what the run waits for, and how long at most
            log.warning(
                "paraffin: waiting up to %g s for jobs of an interrupted run to stop: %s",
                wait,
                names,
            )
            told = True
        time.sleep(0.1)


def orphan_wait() -> float:
    """$PARAFFIN_ORPHAN_WAIT when it is a number of seconds >= 0, else `ORPHAN_WAIT`."""
    try:
        wait = float(os.environ.get(ORPHAN_WAIT_VAR, ORPHAN_WAIT))
    except ValueError:
        return ORPHAN_WAIT
    return wait if wait >= 0 else ORPHAN_WAIT


def listed_jobs(jobs: Path) -> set[str]:
    """Rules whose job is listed in ``jobs`` (it lists itself as it starts,
    empties its entry as it ends): alive or killed unlisted, not judged here."""
    try:
        entries = list(os.scandir(jobs))
    except OSError:
        return set()
    listed = set()
    for entry in entries:
        try:
            if entry.stat(follow_symlinks=False).st_size:
                listed.add(entry.name)
        except OSError:
            continue
    return listed


def _alive_jobs(jobs: Path) -> list[tuple[str, str, str]]:
    """(rule, pid, host) of every listed job still alive; dead ones are
    unlisted. An empty entry lists no job (a job empties its own as it ends)
    and stays: the rule's next job writes into it, where a file removed and
    made again per run costs an inode freed and one made."""
    try:
        entries = sorted(os.scandir(jobs), key=lambda entry: entry.name)
    except OSError:
        return []
    here, alive = socket.gethostname(), []
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.stat(follow_symlinks=False).st_size == 0:
                continue
            words = path.read_text().split()
            age = time.time() - path.stat().st_mtime
        except (FileNotFoundError, UnicodeDecodeError):
            continue
        pid, host = (words[1:3] + ["", ""])[:2] if len(words) >= 2 else ("", "")
        if host == here or not host:
            living = _is_job(pid)
        else:
            living = age < REMOTE_ALIVE
        if living:
            alive.append((path.name, pid, host or here))
        else:
            path.unlink(missing_ok=True)
    return alive


def _is_job(pid: str) -> bool:
    """A process with that pid is alive and is a paraffin job (not a reuse)."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid
    return b"job.sh" in cmdline


def watch(root: Path, token: str, host: str) -> subprocess.Popen[bytes]:
    """Start the run's one watchdog (`job.sh --watch`): once a second it
    checks this process and the token, and stops the jobs of run ``token``
    listed on ``host``, command trees included, once this process is gone or
    a new run took over. A session of its own: it outlives this process
    however it ends (SIGKILL, the OOM killer, SIGHUP), no Python."""
    return subprocess.Popen(
        ["sh", os.fspath(SCRIPT), "--watch", token, str(owner.pid()), host],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def unwatch(watchdog: subprocess.Popen[bytes] | None) -> None:
    """The run ended: its watchdog goes, its `sleep 1` too (its own group)."""
    if watchdog is None:
        return
    try:
        os.killpg(watchdog.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it saw the heartbeat "stopped" and ended already
    watchdog.wait()
