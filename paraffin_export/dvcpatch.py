"""DVC's rwlock file, written atomically in this process.

DVC edits `.dvc/tmp/rwlock` in place (`dvc/rwlock.py:_edit_rwlock`); a
process killed during the write leaves a truncated JSON file, and then every
`dvc` command fails with "Unable to read RWLock-file". `dvc repro` has that
window once per stage; the coordinator would have it many times per batch, so
in the process that runs it the edit writes a temporary file and renames it.
Same guard lock, same schema, same content.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_installed = False


def install() -> None:
    """Idempotent; call before any DVC rwlock is taken."""
    global _installed
    if _installed:
        return
    import dvc.rwlock

    dvc.rwlock._edit_rwlock = _edit_rwlock
    _installed = True


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
