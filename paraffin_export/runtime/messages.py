"""The files through which the `paraffin` runner's jobs and its coordinator talk.

Standard library only: jobs import this (through `paraffin_export.job`) and
must start in milliseconds, without DVC. Everything lives under
``.paraffin/run/`` in the DVC root, on the filesystem every worker shares:

- ``verdict/<rule>.json``: written by the coordinator once DVC has decided
  what a stage's job must do ("run" its command, or "done": up to date,
  restored from the run cache, or a frozen stage verified).
- ``journal/<rule>.json``: written by a job whose command succeeded; the
  stage's work is done but not yet recorded in `dvc.lock`. The coordinator
  records it and deletes the entry; an entry left by a crash is replayed
  (or discarded) by the next run.
- ``started/<rule>``: a job has started once in this run (a second start is
  a Snakemake retry, which must remove the outputs again, as `dvc repro` would).
- ``heartbeat.json``: the coordinator's state, rewritten every second, so a
  job never waits for a coordinator that is gone.
- ``token``: ``TOKEN PID HOST`` of the running coordinator, a new random token
  per run. Verdicts carry it and journal entries must carry it back: a job of
  a crashed run can never pass for one of the next run's.
- ``jobs/<rule>``: ``TOKEN PID`` of a job while it lives; a new run waits for
  the jobs of an earlier run still alive (`runlock`).
- ``lock``: flock'd by the main Snakemake process for its whole run.

Every file is written to a temporary name and renamed: a reader (on any node)
sees a whole file or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat

from ..paths import (  # noqa: F401
    HEARTBEAT,
    JOBS,
    JOURNAL,
    RUN_DIR,
    STARTED,
    TOKEN,
    VERDICT,
    run_dir,
)

# Every job imports this module: `typing`, `pathlib` and `tempfile` would cost
# more start-up than the rest of the job (plain os.path, and the idiom mypy
# and pyright read as typing.TYPE_CHECKING)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FOREIGN = "this job belongs to an earlier run of the project, whose coordinator is gone"
HEARTBEAT_EVERY = 1.0
# A job gives up when the heartbeat is this old: the coordinator (the main
# Snakemake process) died, or hooks were disabled (`--no-hooks`)
STALE_AFTER = float(os.environ.get("PARAFFIN_COORDINATOR_TIMEOUT", "60"))


def write_json(path: str | os.PathLike[str], data: Any, *, durable: bool = False) -> None:
    """Atomic write; ``durable`` also fsyncs (a journal entry must survive a
    machine crash right after the job that wrote it reported success)."""
    write_text(path, json.dumps(data, sort_keys=True), durable=durable)


def write_text(path: str | os.PathLike[str], text: str, *, durable: bool = False) -> None:
    """Atomic write: a reader (on any node) sees the whole file or none."""
    folder, name = os.path.split(os.fspath(path))
    # random, not pid-based: workers on several hosts share this directory
    tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def read_json(path: str | os.PathLike[str]) -> Any | None:
    """The file's data, or None when it does not exist (yet)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def fingerprint(paths: list[str]) -> str:
    """Size and modification time of every file under ``paths``: equal
    fingerprints mean nothing was written there in between (what DVC's own
    state database trusts to skip rehashing). Missing paths count too."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        for name, info in _walk(path):
            digest.update(f"{name}\0{info}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _walk(path: str) -> list[tuple[str, str]]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return [(path, "missing")]
    if not stat.S_ISDIR(st.st_mode):
        return [(path, f"{st.st_size} {st.st_mtime_ns}")]
    found = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            try:
                info = os.stat(full)
            except FileNotFoundError:
                continue
            found.append((full, f"{info.st_size} {info.st_mtime_ns}"))
    return found or [(path, "empty dir")]
