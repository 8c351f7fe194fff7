"""Hash finished stages' outputs in parallel, before DVC records them.

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

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
CHUNK = 1 << 20
STAGING_PREFIX = ".paraffin-staging-"
# files per task: small files are batched so the pool's overhead stays low
BATCH_FILES = 64
BATCH_BYTES = 64 << 20
# kill tests: a worker pauses here after writing a staged copy's first chunk
PAUSE_ENV = "PARAFFIN_TEST_PREFETCH_PAUSE"
# how many hashing threads; 0: DVC hashes and copies in the coordinator, one
# file after another (the behaviour before issue 18; benchmarks compare both)
THREADS_ENV = "PARAFFIN_HASH_THREADS"


@dataclass(frozen=True)
class Hashed:
    path: str
    md5: str
    info: dict[str, Any]  # DVC's fs.info of the file, taken before the read
    staged: str | None  # a complete copy in the staging dir, or None


class Prefetcher:
    """One per run: a thread pool and a staging dir inside DVC's cache."""

    def __init__(self, repo: Any, workers: int | None = None) -> None:
        self.odb = repo.cache.local
        self.state = repo.state
        if workers is None:
            workers = _threads()
        self.workers = workers
        self._pool = ThreadPoolExecutor(max(workers, 1), thread_name_prefix="paraffin-hash")
        self._futures: dict[str, list[Future[list[Hashed]]]] = {}
        self._staged: dict[str, dict[str, str]] = {}  # rule -> md5 -> staged copy
        self.counts = {"files": 0, "bytes": 0, "staged": 0, "placed": 0, "not_copied_back": 0}
        # odb.path is <cache>/files/md5: the staging dir goes in <cache>, same filesystem
        root = os.path.dirname(os.path.dirname(self.odb.path))
        clean_staging(root)
        os.makedirs(root, exist_ok=True)
        self.staging = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=root)
        self.copy = _copies_into_cache(self.odb, self.staging)
        self.counts["copy"] = int(self.copy)

    def submit(self, rule: str, stage: Any) -> None:
        """Start hashing ``stage``'s outputs (once per rule)."""
        if rule in self._futures:
            return
        tasks: list[Future[list[Hashed]]] = []
        for out in stage.outs if self.workers else ():
            if not _eligible(out):
                continue
            copy = self.copy and bool(out.use_cache)
            for batch in _batches(out.fs_path):
                tasks.append(self._pool.submit(_hash_all, out.fs, batch, copy, self.staging))
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
                _unlink(h.staged)
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
                _unlink(tmp)
                continue
            self.odb.makedirs(os.path.dirname(dest))
            os.chmod(tmp, self.odb.CACHE_MODE)
            try:
                os.replace(tmp, dest)
            except OSError:  # another filesystem after all: DVC copies it
                _unlink(tmp)
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

        os.chmod(out.fs_path, 0o666 & ~_umask())
        out.set_exec()
        _save_link(out.fs_path, out.fs, None, {}, self.state)
        self.counts["not_copied_back"] += 1

    def discard(self, rule: str) -> None:
        """Staged copies DVC did not want (or a failed record) go."""
        for f in self._futures.pop(rule, ()):
            for h in _result(f):
                if h.staged:
                    _unlink(h.staged)
        for tmp in (self._staged.pop(rule, None) or {}).values():
            _unlink(tmp)

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


def _batches(path: str) -> Iterator[list[str]]:
    """The files of an output (a dir's files in batches); none if it is missing."""
    if os.path.isfile(path):
        yield [path]
        return
    batch: list[str] = []
    size = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            full = os.path.join(dirpath, name)
            batch.append(full)
            try:
                size += os.lstat(full).st_size
            except OSError:
                continue
            if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


def _hash_all(fs: Any, paths: list[str], copy: bool, staging: str) -> list[Hashed]:
    out = []
    for path in paths:
        try:
            hashed = _hash_one(fs, path, copy, staging)
        except OSError:  # DVC meets the same file and reports it
            continue
        if hashed is not None:
            out.append(hashed)
    return out


def _hash_one(fs: Any, path: str, copy: bool, staging: str) -> Hashed | None:
    """One read of ``path``: md5, and the staged copy when ``copy``."""
    if os.path.islink(path):  # DVC hashes the target; leave links to DVC
        return None
    before = fs.info(path)
    md5 = hashlib.md5()  # noqa: S324 - DVC's content hash, not security
    tmp = None
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb") as src:
        dst = None
        if copy:
            fd, tmp = tempfile.mkstemp(dir=staging)
            dst = os.fdopen(fd, "wb")
        try:
            first = True
            while n := src.readinto(buf):
                md5.update(view[:n])
                if dst is not None:
                    dst.write(view[:n])
                    if first:
                        _pause_for_tests(dst)
                first = False
        except BaseException:
            if tmp:
                dst.close()  # type: ignore[union-attr]
                _unlink(tmp)
            raise
        if dst is not None:
            dst.close()
    after = fs.info(path)
    if _key(before) != _key(after):  # written while read: DVC hashes it itself
        if tmp:
            _unlink(tmp)
        return None
    return Hashed(path, md5.hexdigest(), before, tmp)


def _key(info: dict[str, Any]) -> tuple[Any, ...]:
    return info["ino"], info["mtime"], info["size"], info["type"]


def _pause_for_tests(dst: Any) -> None:
    gate = os.environ.get(PAUSE_ENV)
    if not gate:
        return
    import time

    dst.flush()
    open(gate + ".reached", "w").close()  # noqa: SIM115 - a marker file
    while os.path.exists(gate):  # the test kills the run here
        time.sleep(0.01)


def _result(future: Future[list[Hashed]]) -> list[Hashed]:
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
        _unlink(src)
        _unlink(src + ".clone")
    return False


def clean_staging(root: str) -> None:
    """Staging dirs of runs that are gone (killed runs leave their temps)."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return
    for name in names:
        if not name.startswith(STAGING_PREFIX):
            continue
        pid = name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
            continue
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def _umask() -> int:
    """The process umask, read without setting it (os.umask would race with
    the threads creating files meanwhile)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
