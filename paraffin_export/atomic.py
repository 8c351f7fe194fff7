"""The one way paraffin-export replaces a file: a temporary file beside it, renamed over it.

Readers (on any node of a shared filesystem) see the old file or the new one,
never a part of either; a writer killed midway leaves the old file and a
``.NAME.*.tmp`` beside it. Records that only grow (the journal's stamps) are
appended instead (`append_durable`). Standard library only: both wings use it.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import time
from typing import TextIO


def write_atomic(path: str | os.PathLike[str], text: str, *, durable: bool = False) -> None:
    """Replace ``path`` by ``text``, keeping its permission bits (a new file
    gets what ``open`` would give it). ``durable`` also fsyncs the file and its
    folder, so the new content survives a machine crash right after."""
    path = os.fspath(path)
    tmp = _temp_with(path, text)
    try:
        if durable:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            # a full disk can fail the fsync, which names no file
            raise OSError(exc.errno, exc.strerror, path) from exc
        raise
    if durable:
        _fsync_file(os.path.dirname(path) or ".")


def append_durable(path: str | os.PathLike[str], lines: str) -> None:
    """Append ``lines`` (whole lines) to ``path`` and fsync it, and its
    folder when this made the file: one inode for a whole run's records,
    where a file per record costs an inode made and freed. A writer killed
    midway leaves a cut last line; a newline goes first, so the next append
    never continues it. Readers take whole, well-formed lines only."""
    path = os.fspath(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
    try:
        fd, made = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666), True
    except FileExistsError:
        fd, made = os.open(path, flags), False
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            _write(handle, path, "\n" + lines)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        if exc.filename is None:  # a full disk: name the file
            raise OSError(exc.errno, exc.strerror, path) from exc
        raise
    if made:
        _fsync_file(os.path.dirname(path) or ".")


def _temp_with(path: str, text: str) -> str:
    """A temp file beside ``path`` holding ``text``, with ``path``'s mode."""
    folder = os.path.dirname(path) or "."
    # random, not pid-based: writers on several hosts share these folders
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            _write(handle, path, text)
        os.chmod(tmp, _mode_for(path))
    except BaseException as exc:
        os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, path) from exc  # a full disk: name the file
        raise
    return tmp


# Kill tests (tests/engine/test_cache_kills.py): "GLOB|GATE[|N]" holds the N-th
# (default first) write of a file whose path matches GLOB half-way through its
# temp file, until the test kills the process (or deletes GATE). Read only here.
PAUSE_ENV = "PARAFFIN_TEST_WRITE_PAUSE"
_matched = [0]


def _write(handle: TextIO, path: str, text: str) -> None:
    gate = _gate(path)
    if gate is None:
        handle.write(text)
        return
    handle.write(text[: len(text) // 2])
    handle.flush()
    open(f"{gate}.reached", "w").close()  # noqa: SIM115 - a marker
    while os.path.exists(gate):
        time.sleep(0.01)
    handle.write(text[len(text) // 2 :])


def _gate(path: str) -> str | None:
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return None
    glob, gate, nth = (spec.split("|") + ["1"])[:3]
    if not fnmatch.fnmatch(path, glob):
        return None
    _matched[0] += 1
    return gate if _matched[0] == int(nth) else None


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~umask()


@functools.cache
def umask() -> int:
    """The process umask, read once (the coordinator's batches asked for it
    per output). os.umask() would change it too, for a moment, under the
    other threads of the process (Snakemake's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022
