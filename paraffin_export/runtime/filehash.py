"""One read of each output file, in a worker thread: its md5 and, when DVC
would copy the file into the cache, a staged copy in the cache's filesystem.

No DVC here (only its `fs.info`, passed in): `prefetch.Prefetcher` hands these
results to DVC's state database and cache. A file that changed while it was
read (stat before != stat after) gives no result, so DVC hashes it itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import owner

CHUNK = 1 << 20
STAGING_PREFIX = ".paraffin-staging-"
# files per task: small files are batched so the pool's overhead stays low
BATCH_FILES = 64
BATCH_BYTES = 64 << 20
# kill tests: a worker pauses here after writing a staged copy's first chunk
PAUSE_ENV = "PARAFFIN_TEST_PREFETCH_PAUSE"


@dataclass(frozen=True)
class Hashed:
    path: str
    md5: str
    info: dict[str, Any]  # DVC's fs.info of the file, taken before the read
    staged: str | None  # a complete copy in the staging dir, or None


def batches(path: str) -> Iterator[list[str]]:
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


def hash_all(fs: Any, paths: list[str], copy: bool, staging: str) -> list[Hashed]:
    out = []
    for path in paths:
        try:
            hashed = hash_one(fs, path, copy, staging)
        except OSError:  # DVC meets the same file and reports it
            continue
        if hashed is not None:
            out.append(hashed)
    return out


def hash_one(fs: Any, path: str, copy: bool, staging: str) -> Hashed | None:
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
                unlink(tmp)
            raise
        if dst is not None:
            dst.close()
    after = fs.info(path)
    if _key(before) != _key(after):  # written while read: DVC hashes it itself
        if tmp:
            unlink(tmp)
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
        if pid.isdigit() and _alive(int(pid)) and int(pid) != owner.pid():
            continue
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
