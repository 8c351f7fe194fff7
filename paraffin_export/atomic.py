"""The one way paraffin-export replaces a file: a temporary file beside it, renamed over it.

Readers (on any node of a shared filesystem) see the old file or the new one,
never a part of either; a writer killed midway leaves the old file and a
``.NAME.*.tmp`` beside it. Standard library only: both wings use it.
"""

from __future__ import annotations

import os


def write_atomic(path: str | os.PathLike[str], text: str, *, durable: bool = False) -> None:
    """Replace ``path`` by ``text``, keeping its permission bits (a new file
    gets what ``open`` would give it). ``durable`` also fsyncs the file and its
    folder, so the new content survives a machine crash right after."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    # random, not pid-based: writers on several hosts share these folders
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            # a full disk fails the write or the flush, which name no file
            raise OSError(exc.errno, exc.strerror, path) from exc
        raise
    if durable:
        handle_dir = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle_dir)
        finally:
            os.close(handle_dir)


def _mode_for(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # os.umask() would change it too, for a moment, under the other threads
    # of the process (Snakemake's)
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
