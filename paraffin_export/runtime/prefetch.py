"""Hash finished stages' outputs in parallel, before DVC records them
(the reading itself is `filehash`, in worker threads).

DVC's `save` hashes every output and `commit` copies it into the cache, one
file after another in the coordinator thread. Here worker threads (hashlib
and file reads/writes release the GIL) read each output file once: the bytes
feed md5 and, when DVC would copy the file into the cache, a staged copy in
the cache's filesystem. The coordinator then, under DVC's lock:

- stores each hash in DVC's state database keyed by the stat taken before the
  read (`apply`), so DVC's own `save` finds it instead of reading the file;
- after `save`, moves into the cache exactly the staged copies of the objects
  DVC's `save` chose (`place`); `commit` finds them there and skips the copy.

DVC still decides everything: hashes, cache layout, links, `dvc.lock`. A file
that changed while it was read (stat before != stat after) is left to DVC.
A staged copy enters the cache by one `os.replace`, so a crash leaves only a
temp file in the staging dir (removed by the next run), never a partial
object; hardlink and reflink caches get only the hashes (DVC links there).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..atomic import umask
from . import filehash, owner

log = logging.getLogger(__name__)
# how many hashing threads; 0: DVC hashes and copies in the coordinator, one
# file after another (the behaviour before issue 18; benchmarks compare both)
THREADS_ENV = "PARAFFIN_HASH_THREADS"


class Prefetcher:
    """One per run: a thread pool and a staging dir inside DVC's cache."""

    def __init__(self, repo: Any, workers: int | None = None) -> None:
        self.odb = repo.cache.local
        self.state = repo.state
        if workers is None:
            workers = _threads()
        self.workers = workers
        self._pool = ThreadPoolExecutor(max(workers, 1), thread_name_prefix="paraffin-hash")
        self._futures: dict[str, list[Future[list[filehash.Hashed]]]] = {}
        self._staged: dict[str, dict[str, str]] = {}  # rule -> md5 -> staged copy
        self.counts = {"files": 0, "bytes": 0, "staged": 0, "placed": 0, "not_copied_back": 0}
        # odb.path is <cache>/files/md5: the staging dir goes in <cache>, same filesystem
        root = os.path.dirname(os.path.dirname(self.odb.path))
        filehash.clean_staging(root)
        os.makedirs(root, exist_ok=True)
        self.staging = tempfile.mkdtemp(prefix=f"{filehash.STAGING_PREFIX}{owner.pid()}-", dir=root)
        self.copy = _copies_into_cache(self.odb, self.staging)
        self.counts["copy"] = int(self.copy)

    def submit(self, rule: str, stage: Any) -> None:
        """Start hashing ``stage``'s outputs (once per rule)."""
        if rule in self._futures:
            return
        tasks: list[Future[list[filehash.Hashed]]] = []
        for out in stage.outs if self.workers else ():
            if not _eligible(out):
                continue
            copy = self.copy and bool(out.use_cache)
            for batch in filehash.batches(out.fs_path):
                task = self._pool.submit(filehash.hash_all, out.fs, batch, copy, self.staging)
                tasks.append(task)
        self._futures[rule] = tasks

    def done(self, rule: str) -> bool:
        return all(f.done() for f in self._futures.get(rule, ()))

    def pending(self) -> bool:
        return any(not self.done(rule) for rule in self._futures)

    def apply(self, rule: str) -> None:
        """Hashes into DVC's state db (coordinator thread, under DVC's lock)."""
        results = [h for f in self._futures.pop(rule, ()) for h in _result(f)]
        staged: dict[str, str] = {}
        for h in results:
            if h.staged and h.md5 not in staged:
                staged[h.md5] = h.staged
            elif h.staged:
                filehash.unlink(h.staged)
        self._staged[rule] = staged
        self.state.save_many(((h.path, _md5(h.md5), h.info) for h in results), self.odb.fs)
        self.counts["files"] += len(results)
        self.counts["bytes"] += sum(h.info["size"] for h in results)
        self.counts["staged"] += len(staged)

    def place(self, rule: str, stage: Any) -> None:
        """After DVC's `save`: the staged copies of the objects it chose into
        the cache, where its `commit` finds them."""
        staged = self._staged.get(rule) or {}
        for oid in _oids(stage):
            tmp = staged.pop(oid, None)
            if tmp is None:
                continue
            dest = self.odb.oid_to_path(oid)
            if os.path.exists(dest):
                filehash.unlink(tmp)
                continue
            self.odb.makedirs(os.path.dirname(dest))
            os.chmod(tmp, self.odb.CACHE_MODE)
            try:
                os.replace(tmp, dest)
            except OSError:  # another filesystem after all: DVC copies it
                filehash.unlink(tmp)
                continue
            self.counts["placed"] += 1

    def copies_back(self, out: Any) -> bool:
        """Would DVC's relink after commit copy this output back out of the
        cache? (The default `reflink,copy` on a filesystem without reflinks:
        it removes the file it just hashed and copies the object back.) Then
        `settle` leaves the same workspace without the second copy."""
        return (
            self.copy
            and bool(self.workers)
            and bool(out.use_cache)
            and next(iter(self.odb.cache_types), None) == "reflink"
            and out.hash_info is not None
            and not out.hash_info.isdir
            and os.path.isfile(out.fs_path)
            and not os.path.islink(out.fs_path)
            and os.stat(out.fs_path).st_nlink == 1
        )

    def settle(self, out: Any) -> None:
        """What DVC's relink leaves, for a file whose bytes already equal the
        object: the mode of a fresh copy (then `set_exec`), the link record."""
        from dvc_data.hashfile.checkout import _save_link

        os.chmod(out.fs_path, 0o666 & ~umask())
        out.set_exec()
        _save_link(out.fs_path, out.fs, None, {}, self.state)
        self.counts["not_copied_back"] += 1

    def discard(self, rule: str) -> None:
        """Staged copies DVC did not want (or a failed record) go."""
        for f in self._futures.pop(rule, ()):
            for h in _result(f):
                if h.staged:
                    filehash.unlink(h.staged)
        for tmp in (self._staged.pop(rule, None) or {}).values():
            filehash.unlink(tmp)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for rule in list(self._futures) + list(self._staged):
            self.discard(rule)
        shutil.rmtree(self.staging, ignore_errors=True)


def _threads() -> int:
    value = os.environ.get(THREADS_ENV, "")
    if value.isdigit():
        return int(value)
    return min(8, max(4, 2 * (os.cpu_count() or 1)))


def _eligible(out: Any) -> bool:
    """Local files and dirs DVC hashes with plain md5 (not legacy md5-dos2unix)."""
    return (
        getattr(out.fs, "protocol", None) in ("local", "file")
        and out.hash_name == "md5"
        and not out.IS_DEPENDENCY
    )


def _result(future: Future[list[filehash.Hashed]]) -> list[filehash.Hashed]:
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - DVC hashes what the workers could not
        log.debug("paraffin: parallel hashing failed", exc_info=True)
        return []


def _md5(value: str) -> Any:
    from dvc_data.hashfile.hash_info import HashInfo

    return HashInfo("md5", value)


def _oids(stage: Any) -> Iterator[str]:
    """The objects DVC's `save` put in each cached output's tree or file."""
    from dvc_data.hashfile.tree import Tree

    for out in stage.outs:
        obj = getattr(out, "obj", None)
        if not out.use_cache or obj is None:
            continue
        if isinstance(obj, Tree):
            yield from (hi.value for _, _, hi in obj if hi is not None and hi.value)
        elif out.hash_info and out.hash_info.value:
            yield out.hash_info.value


def _copies_into_cache(odb: Any, staging: str) -> bool:
    """Does DVC's commit copy bytes into the cache? Not when it hardlinks
    (the first cache type) or when the filesystem reflinks."""
    if next(iter(odb.cache_types), None) == "hardlink":
        return False
    from dvc_objects.fs.system import reflink

    src = os.path.join(staging, "reflink-probe")
    try:
        with open(src, "wb") as f:
            f.write(b"x")
        reflink(src, src + ".clone")
    except (OSError, AttributeError):
        return True
    finally:
        filehash.unlink(src)
        filehash.unlink(src + ".clone")
    return False
