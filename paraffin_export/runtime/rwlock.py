"""DVC's rwlock, patched in the process that runs the coordinator.

1. One rwlock per batch. DVC takes its rwlock (`.dvc/tmp/rwlock`) around
   every stage method (`changed`, `remove_outs`, `save_outs`, `commit`, ...):
   about four file edits per stage, each a guarded read, parse and rewrite of
   one JSON file. The coordinator takes one rwlock for a whole batch, over the
   deps (read) and outputs (write) of every stage in it; inside it, DVC's own
   calls for paths the batch holds pass straight through, and any other call
   locks as usual.
2. Written atomically. DVC edits `.dvc/tmp/rwlock` in place (`dvc/rwlock.py:_edit_rwlock`); a
process killed during the write leaves a truncated JSON file, and then every
`dvc` command fails with "Unable to read RWLock-file". `dvc repro` has that
window once per stage; the coordinator would have it many times per batch, so
in the process that runs it the edit writes a temporary file and renames it.
Same guard lock, same schema, same content.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_installed = False
_original: Any = None
# paths the running batch holds: (read, write)
_held: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def install() -> None:
    """Idempotent; call before any DVC rwlock is taken."""
    global _installed, _original
    if _installed:
        return
    import dvc.rwlock

    _original = dvc.rwlock.rwlock
    dvc.rwlock._edit_rwlock = _edit_rwlock
    dvc.rwlock.rwlock = _rwlock
    _installed = True


@contextmanager
def batch_rwlock(repo: Any, read: list[str], write: list[str]) -> Iterator[None]:
    """One DVC rwlock over every path of a batch (see the module docstring)."""
    global _held
    install()
    hardlink = repo.config["core"].get("hardlink_lock", False)
    # DVC's own `rwlocked` names holders by argv: the same name marks nested
    # calls of this process as ours, not as a conflict
    cmd = " ".join(sys.argv)
    with _original(repo.tmp_dir, repo.fs, cmd, read, write, hardlink):
        _held = (frozenset(read) | frozenset(write), frozenset(write))
        try:
            yield
        finally:
            _held = (frozenset(), frozenset())


@contextmanager
def _rwlock(
    tmp_dir: str, fs: Any, cmd: str, read: list[str], write: list[str], hardlink: bool
) -> Iterator[None]:
    readable, writable = _held
    if set(read) <= readable and set(write) <= writable:
        yield
        return
    with _original(tmp_dir, fs, cmd, read, write, hardlink):
        yield


@contextmanager
def _edit_rwlock(lock_dir: str, fs: Any, hardlink: bool) -> Iterator[Any]:
    from dvc.lock import make_lock
    from dvc.rwlock import (
        RWLOCK_FILE,
        RWLOCK_LOCK,
        SCHEMA,
        RWLockFileCorruptedError,
        RWLockFileFormatError,
    )
    from voluptuous import Invalid

    path = fs.join(lock_dir, RWLOCK_FILE)
    guard = make_lock(fs.join(lock_dir, RWLOCK_LOCK), tmp_dir=lock_dir, hardlink_lock=hardlink)
    with guard:
        try:
            with open(path, encoding="utf-8") as handle:
                lock = SCHEMA(json.load(handle))
        except FileNotFoundError:
            lock = SCHEMA({})
        except json.JSONDecodeError as exc:
            raise RWLockFileCorruptedError(path) from exc
        except Invalid as exc:
            raise RWLockFileFormatError(path) from exc
        lock["read"] = defaultdict(list, lock["read"])
        lock["write"] = defaultdict(dict, lock["write"])
        yield lock
        fd, tmp = tempfile.mkstemp(prefix=".rwlock.", dir=lock_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(lock, handle)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
