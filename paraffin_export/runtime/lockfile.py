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
  renamed over `dvc.lock` (`atomic`): readers and crashes see the old file or
  the new one;
- the coordinator's recorded stages wait in `PendingWrites` and are written
  every few times a write's own cost, not after every batch.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_atomic


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
    write_lockfile(path, text)
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


def write_lockfile(path: Path, text: str) -> None:
    """Replace ``path`` by ``text``, durably. Callers hold DVC's repo lock,
    so temp files found here were left by a writer killed before its rename."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    write_atomic(path, text, durable=True)


class PendingWrites:
    """Stages DVC recorded that are not yet in `dvc.lock`, with the journal
    entries to delete once they are. Writes are spaced by a few times their
    own cost: with 500 stages in one `dvc.lock`, one rewrite costs about a second."""

    def __init__(self, order: Sequence[Any]) -> None:
        """``order``: the run's DVC stages, in the order `dvc repro` would add them."""
        self.rank = {id(stage): i for i, stage in enumerate(order)}
        self.unwritten: list[Any] = []
        self.journalled: list[str] = []
        self._next_write = 0.0

    def add(self, stages: Iterable[Any], journalled: Iterable[str]) -> None:
        self.unwritten += stages
        self.journalled += journalled

    def due(self) -> bool:
        return time.monotonic() >= self._next_write

    def write(self) -> tuple[int, list[str]]:
        """Write every pending stage; (1 if `dvc.lock` files were written else 0,
        the journal entries now safe to delete)."""
        started = time.monotonic()
        written = 0
        if self.unwritten:
            self.unwritten.sort(key=lambda stage: self.rank[id(stage)])
            dump_stages(self.unwritten)
            written = 1
        journalled = self.journalled
        self.unwritten, self.journalled = [], []
        spent = time.monotonic() - started
        self._next_write = time.monotonic() + min(max(4 * spent, 0.2), 10.0)
        return written, journalled
