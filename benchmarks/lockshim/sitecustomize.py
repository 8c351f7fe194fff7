"""Benchmark-only shim: logs when each process wants, gets and releases DVC's
repo lock (`dvc.lock.Lock`, the `.dvc/tmp/lock` flock), without changing how
DVC takes it.

Active only where benchmarks/bookkeeping.py puts this folder on PYTHONPATH and
sets PARAFFIN_LOCK_LOG. When `dvc.lock` is first imported, `Lock.lock` and
`Lock.unlock` are wrapped: one `os.write` of a short line to a file opened
with O_APPEND per event (microseconds; atomic between processes). Clock:
`time.monotonic()`, CLOCK_MONOTONIC, one clock for all processes on Linux.
Events: start (this interpreter began, after Python's own start-up), want,
got, rel, exit; each line is `time pid event argv0-ish`.
"""

import atexit
import os
import sys
import time

_LOG = os.environ.get("PARAFFIN_LOCK_LOG")


def _event(what):
    prog = os.path.basename(sys.argv[0]) if sys.argv else ""
    line = f"{time.monotonic():.6f} {os.getpid()} {what} {prog}\n"
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _patch(module):
    lock_cls = module.Lock
    lock, unlock = lock_cls.lock, lock_cls.unlock

    def logged_lock(self):
        repo_lock = str(self.lockfile).endswith(os.path.join("tmp", "lock"))
        if repo_lock:
            _event("want")
        lock(self)
        if repo_lock:
            _event("got")

    def logged_unlock(self):
        held = self.is_locked
        unlock(self)
        if held and str(self.lockfile).endswith(os.path.join("tmp", "lock")):
            _event("rel")

    lock_cls.lock, lock_cls.unlock = logged_lock, logged_unlock


class _Finder:
    """Patches `dvc.lock` right after it is executed, on first import."""

    def find_spec(self, name, path=None, target=None):
        if name != "dvc.lock":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


if _LOG:
    sys.meta_path.insert(0, _Finder())
    _event("start")
    atexit.register(_event, "exit")
