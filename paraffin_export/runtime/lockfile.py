"""Recording many finished stages in `dvc.lock` with one atomic write per file.

DVC's own `Lockfile.dump_stages` re-reads and rewrites the whole `dvc.lock`
in place for every `dvc repro` of one stage: with 500 stages in one
`dvc.yaml` that is about 1.3 s of the repo lock per stage, and a process
killed during the write leaves a truncated `dvc.lock` that breaks `dvc status`
for the whole repository. Here the entries come from DVC's own serializer
(`dvc.stage.serialize.to_lockfile`) and DVC's own round-trip YAML parser and
dumper, so the file's bytes are what DVC would write, but:

- a batch of stages costs one parse and one dump per `dvc.lock`; a batch of
  stages new to the file (a first run) dumps only their entries: DVC appends
  new stages at the end of `stages:`, and the dumper lays out each entry alone
  (tested on every corpus `dvc.lock`);
- the new text goes to a temporary file in the same folder, is fsynced and
  renamed over `dvc.lock`: readers and crashes see the old file or the new one.
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def dump_stages(stages: Iterable[Any]) -> list[str]:
    """Write the lock entries of ``stages`` (saved DVC ``PipelineStage``s),
    grouped by `dvc.lock`; returns the lock files whose content changed."""
    by_lock: dict[str, list[Any]] = {}
    for stage in stages:
        by_lock.setdefault(stage.dvcfile._lockfile.path, []).append(stage)
    return [path for path, group in sorted(by_lock.items()) if _dump(Path(path), group)]


def _dump(path: Path, stages: list[Any]) -> bool:
    from dvc.stage import serialize
    from dvc.utils.serialize import parse_yaml_for_update

    data, text = _cached(path)
    ours = data is not None  # the text is our own last dump
    if data is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        data = parse_yaml_for_update(text, os.fspath(path)) if text else {}
    if not data:
        # as DVC: the schema first
        data.update({"schema": "2.0"})
    data["stages"] = data.get("stages", {})
    appendable = ours and bool(data["stages"]) and list(data)[-1] == "stages"
    modified, new = False, {}
    for stage in stages:
        entry = serialize.to_lockfile(stage)
        old = data["stages"].get(stage.name)
        modified = modified or old != entry.get(stage.name, {})
        if old is None:
            new.update(entry)
        data["stages"].update(entry)
    if not modified and text:
        return False
    if appendable and len(new) == len(stages):
        text = append_stages(text, new)
    else:
        text = _yaml_text(data)
    write_atomic(path, text)
    _CACHE[path] = (_stat_key(path), data, text)
    return True


# lock file -> (its stat when we wrote it, the round-trip data, the text): the
# next batch skips the parse (half the cost) unless someone else wrote the file
_CACHE: dict[Path, tuple[tuple[int, ...], Any, str]] = {}


def _stat_key(path: Path) -> tuple[int, ...]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _cached(path: Path) -> tuple[Any, str]:
    hit = _CACHE.get(path)
    if hit is None or hit[0] != _stat_key(path):
        _CACHE.pop(path, None)
        return None, ""
    return hit[1], hit[2]


def append_stages(text: str, entries: Mapping[str, Any]) -> str:
    """``text`` (a dump whose last key is a non-empty ``stages``) with new
    stage entries added at the end, as a dump of the whole would lay them out."""
    return text + _yaml_text({"stages": dict(entries)}).removeprefix("stages:\n")


def _yaml_text(data: Any) -> str:
    from dvc.utils.serialize._yaml import _dump

    stream = io.StringIO()
    _dump(data, stream)
    return stream.getvalue()


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text``: temp file, fsync, rename, fsync the folder.
    Callers hold DVC's repo lock, so temp files found here were left by a
    writer killed before its rename. A file DVC could not open for writing
    (a read-only `dvc.lock`) is refused as DVC refuses it, not replaced."""
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _umask() -> int:
    # os.umask() would set it too, for a moment, under Snakemake's other threads
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
