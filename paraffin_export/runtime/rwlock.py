"""DVC's rwlock, patched in the process that runs the coordinator.

1. Held per stage, edited per batch. `dvc repro` holds read locks on a
   stage's deps and write locks on its outputs for the stage's whole run, so a
   `dvc repro` or `dvc commit` started beside it fails with "'out' is busy".
   The coordinator does the same (`HeldLocks`): a stage's paths are locked from
   its "run" verdict until it is recorded, and a batch locks the paths of the
   stages it decides while it decides them. All of that costs one edit of
   `.dvc/tmp/rwlock` per batch, not DVC's four per stage; inside a batch DVC's
   own calls for paths we hold pass straight through, any other call locks as
   usual. Disjoint paths never conflict: stage commands still run side by side.
2. Written atomically. DVC edits `.dvc/tmp/rwlock` in place (`dvc/rwlock.py:_edit_rwlock`); a
process killed during the write leaves a truncated JSON file, and then every
`dvc` command fails with "Unable to read RWLock-file". `dvc repro` has that
window once per stage; the coordinator would have it many times per batch, so
in the process that runs it the edit writes a temporary file and renames it.
Same guard lock, same schema, same content.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from ..atomic import write_atomic
from . import owner

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


class HeldLocks:
    """This process's entries in DVC's rwlock file, counted per path (one
    holder name for all, as DVC's own `rwlocked` names nested calls)."""

    def __init__(self, repo: Any) -> None:
        install()
        self.repo = repo
        self.hardlink = repo.config["core"].get("hardlink_lock", False)
        self.info = {"pid": owner.pid(), "cmd": owner.cmd()}
        self.read: Counter[str] = Counter()
        self.write: Counter[str] = Counter()

    def change(
        self, take: tuple[list[str], list[str]], drop: tuple[list[str], list[str]] = ([], [])
    ) -> None:
        """One edit: lock ``take`` (read, write), unlock ``drop``. Raises DVC's
        LockError ("'path' is busy") when another process holds a path."""
        from dvc.rwlock import (
            _acquire_read,
            _acquire_write,
            _check_blockers,
            _release_read,
            _release_write,
        )

        read, write = self.read.copy(), self.write.copy()
        read.update(take[0])
        write.update(take[1])
        read.subtract(drop[0])
        write.subtract(drop[1])
        read, write = +read, +write  # drop zero counts
        new_read = sorted(set(read) - set(self.read))
        new_write = sorted(set(write) - set(self.write))
        gone_read = sorted(set(self.read) - set(read))
        gone_write = sorted(set(self.write) - set(write))
        if new_read or new_write or gone_read or gone_write:
            tmp_dir = self.repo.tmp_dir
            with _edit_rwlock(tmp_dir, self.repo.fs, self.hardlink) as lock:
                waiting = new_read + new_write
                _check_blockers(tmp_dir, lock, self.info, mode="write", waiters=waiting)
                _check_blockers(tmp_dir, lock, self.info, mode="read", waiters=new_write)
                # entries someone removed by hand are gone already
                mine = [p for p in gone_write if lock["write"].get(p) == self.info]
                _release_write(lock, self.info, mine)
                mine = [p for p in gone_read if self.info in lock["read"].get(p, [])]
                _release_read(lock, self.info, mine)
                _acquire_read(lock, self.info, new_read)
                _acquire_write(lock, self.info, new_write)
        self.read, self.write = read, write
        global _held
        _held = (frozenset(read) | frozenset(write), frozenset(write))

    def release_all(self) -> None:
        self.change(([], []), (list(self.read.elements()), list(self.write.elements())))


class RepoLock:
    """DVC's repo lock, kept from a batch that commits to the cache until the
    batch that writes `dvc.lock` (so `dvc gc` never sees committed objects no
    `dvc.lock` names yet); reentrant: DVC methods inside lock it again."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self._held: ExitStack | None = None

    def take(self) -> None:
        from dvc.repo import lock_repo

        if self._held is None:
            stack = ExitStack()
            stack.enter_context(lock_repo(self.repo))
            self._held = stack

    def release(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None


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
                text = handle.read()
            # what this process wrote last passed the schema then (with 400
            # locked paths, validating every edit cost more than the edit)
            if _written.get(path) == text:
                lock = json.loads(text)
                lock.setdefault("read", {})  # SCHEMA's defaults: DVC drops empty ones
                lock.setdefault("write", {})
            else:
                lock = SCHEMA(json.loads(text))
        except FileNotFoundError:
            lock = SCHEMA({})
        except json.JSONDecodeError as exc:
            raise RWLockFileCorruptedError(path) from exc
        except Invalid as exc:
            raise RWLockFileFormatError(path) from exc
        lock["read"] = defaultdict(list, lock["read"])
        lock["write"] = defaultdict(dict, lock["write"])
        yield lock
        text = json.dumps(lock)
        write_atomic(path, text)
        _written[path] = text


# rwlock file -> the text this process last wrote to it
_written: dict[str, str] = {}
