"""One clear line for what stops a run, instead of a chain of tracebacks.

A generated Snakefile runs inside Snakemake, which shows an exception raised
while it builds the DAG as an `InputFunctionException` with a traceback
block, and one raised in `onerror:` as another traceback. What the user can
act on (a stale Snakefile, a DVC project DVC refuses, a full disk, a file
that may not be written) gets one message instead: ``paraffin: <what>`` and
a hint, on stderr, and the process exits (`SystemExit` passes through
Snakemake's ``except Exception`` handlers untouched). Our own bugs still
show their traceback.

Snakemake's own writes to `.snakemake` on a full disk fail with its
"Error recording metadata ... Please ensure write permissions for the
directory" (twice, the second time as the process's last words, without
`onerror:`). That text is Snakemake's; `RefusedWrites` hears it and the plan
restates it as the run's last line: the file and the system's reason.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
from typing import NoReturn

from ..errors import ParaffinError

# what a full disk or a read-only file answers to a write
REFUSED = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def os_error_line(exc: BaseException) -> str | None:
    """The line "cannot write FILE: REASON" for an error of the system about
    a named file (its disk full, its mode); None for anything else."""
    if not isinstance(exc, OSError) or not exc.filename:
        return None
    what = "cannot write" if exc.errno in REFUSED else "failed on"
    return f"{what} {os.fsdecode(exc.filename)}: {exc.strerror}"


def user_error(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit code of an error the user can fix: ours and
    DVC's (exit 2, as the CLI's), the system's about a file (exit 1); None
    for a bug of ours."""
    if isinstance(exc, ParaffinError):
        return str(exc), exc.exit_code
    line = os_error_line(exc)
    if line is not None:
        return line, 1
    try:
        from dvc.exceptions import DvcException
    except ImportError:  # pragma: no cover - DVC is a dependency
        return None
    if isinstance(exc, DvcException):  # as DVC says it, on one line
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        return lines[0], 2
    return None


def exit_cleanly(exc: BaseException) -> None:
    """Leave the process with one message if ``exc`` is the user's to fix;
    return (the caller re-raises) otherwise."""
    known = user_error(exc)
    if known is not None:
        stop(*known)


def stop(message: str, code: int = 1) -> NoReturn:
    """``paraffin: MESSAGE`` as the last thing on stderr, and exit ``code``."""
    say(message)
    raise SystemExit(code)


def say(message: str) -> None:
    """``paraffin: MESSAGE`` on stderr, after anything buffered on stdout."""
    sys.stdout.flush()
    print(f"paraffin: {message}", file=sys.stderr, flush=True)


_ERRNO = re.compile(r"\[Errno (\d+)\] ([^'\])\n:]+)(?:: '([^']+)')?")
_DIRECTORY = re.compile(r"for the directory (\S+)")


def refused_line(text: str) -> str | None:
    """ "cannot write FILE: REASON" from an error message that quotes a
    refused write (``[Errno 28] No space left on device``) and names its file
    or directory; None otherwise."""
    found = _ERRNO.search(text)
    if found is None or int(found[1]) not in REFUSED:
        return None
    directory = _DIRECTORY.search(text)
    where = found[3] or (directory[1] if directory else None)
    return f"cannot write {where}: {found[2].strip()}" if where else None


class RefusedWrites(logging.Filter):
    """Snakemake's error messages about writes the system refused, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a structured event: not ours
                message = ""
            # our own lines (a failed stage's log tail) are not Snakemake's writes
            line = None if message.startswith("paraffin") else refused_line(message)
            if line is not None and line not in self.lines:
                self.lines.append(line)
        return True


def watch_snakemake() -> RefusedWrites:
    """The one `RefusedWrites` on Snakemake's logger in this process."""
    try:
        from snakemake.logging import logger
    except ImportError:  # pragma: no cover - only called from Snakefiles
        return RefusedWrites()
    for known in logger.filters:
        if isinstance(known, RefusedWrites):
            return known
    watcher = RefusedWrites()
    logger.addFilter(watcher)
    return watcher
