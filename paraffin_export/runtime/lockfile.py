"""Recording many finished stages in `dvc.lock` with one atomic write per file.

DVC's own `Lockfile.dump_stages` re-reads and rewrites the whole `dvc.lock`
in place for every `dvc repro` of one stage: with 500 stages in one
`dvc.yaml` that is about 1.3 s of the repo lock per stage, and a process
killed during the write leaves a truncated `dvc.lock` that breaks `dvc status`
for the whole repository. Here the entries come from DVC's own serializer
(`dvc.stage.serialize.to_lockfile`) and DVC's own round-trip YAML parser and
dumper, so the file's bytes are what DVC would write, but:

- a run parses and dumps each `dvc.lock` whole once; later batches dump only
  the entries they add or change and splice them into the last text: the
  dumper lays out each entry of `stages:` alone (tested on every corpus
  `dvc.lock`), so the bytes equal a dump of the whole;
- a file already in DVC's own layout is not even parsed and dumped whole
  once: `lockyaml` reads it with libyaml, checks each entry's text is what
  DVC's dumper writes for it, and lays out the usual entries without ruamel;
  the text a run wrote last is not parsed at all by the next run
  (`remember_written`);
- the new text goes to a temporary file in the same folder, is fsynced and
  renamed over `dvc.lock` (`atomic`): readers and crashes see the old file or
  the new one;
- entries new to a file keep the order `dvc repro` would have appended them
  in (``rank``), whatever order the batches come in: `dvc repro` updates
  existing entries in place and appends new ones as it reproduces them, so
  an entry that finished late but ranks earlier moves before the entries this
  process added after it;
- the coordinator's recorded stages wait in `PendingWrites` and are written
  every few times a write's own cost, not after every batch.
"""

from __future__ import annotations

import errno
import io
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import lockyaml
from ..atomic import write_atomic

Rank = Mapping[tuple[str, str], int]  # (lock file path, stage name) -> `dvc repro` position


def ranks(stages: Iterable[Any]) -> dict[tuple[str, str], int]:
    """``rank`` for `dump_stages`, from DVC stages in `dvc repro` order."""
    return {_key(stage): i for i, stage in enumerate(stages)}


def _key(stage: Any) -> tuple[str, str]:
    return (os.fspath(stage.dvcfile._lockfile.path), stage.name)


def dump_stages(stages: Iterable[Any], rank: Rank | None = None) -> list[str]:
    """Write the lock entries of ``stages`` (saved DVC ``PipelineStage``s),
    grouped by `dvc.lock`; returns the lock files whose content changed.
    With ``rank``, entries this process added to a file stay in rank order."""
    by_lock: dict[str, list[Any]] = {}
    for stage in stages:
        by_lock.setdefault(stage.dvcfile._lockfile.path, []).append(stage)
    return [path for path, group in sorted(by_lock.items()) if _dump(Path(path), group, rank or {})]


# lock file -> names of the entries this process added to it (new in this run)
_ADDED: dict[Path, set[str]] = {}


def _dump(path: Path, stages: list[Any], rank: Rank) -> bool:
    from dvc.stage import serialize

    data, text, pieces, laid_out = _load(path, stages[0].repo.root_dir)
    changed: dict[str, Any] = {}
    for stage in stages:
        entry = serialize.to_lockfile(stage)
        old = data["stages"].get(stage.name)
        if old != entry.get(stage.name, {}):
            changed.update(entry)
        if old is None:
            _ADDED.setdefault(path, set()).add(stage.name)
        data["stages"].update(entry)
    if not changed and text:
        return False
    _keep_rank_order(path, data["stages"], _ADDED.get(path, set()), rank)
    if pieces is None:  # not our own last dump: DVC's dumper lays out the whole
        text = _yaml_text(data)
        pieces, laid_out = _split(text, data), False
    else:  # only the changed entries are dumped; the rest keep their bytes
        head, parts = pieces
        fast = {name: lockyaml.entry_text(name, entry) for name, entry in changed.items()}
        laid_out = laid_out and None not in fast.values()
        fresh = {n: t if t is not None else _entry_text(n, changed[n]) for n, t in fast.items()}
        if all(_plain(name, piece) for name, piece in fresh.items()):
            parts.update(fresh)
            parts = {name: parts[name] for name in data["stages"]}
            text, pieces = head + "".join(parts.values()), (head, parts)
        else:  # a name YAML quotes or folds (a newline in a foreach key): whole
            text = _yaml_text(data)
            pieces, laid_out = _split(text, data), False
    try:
        write_lockfile(path, text)
    except BaseException:
        _CACHE.pop(path, None)  # its data took the entries the file did not
        raise
    _CACHE[path] = (_stat_key(path), data, text, pieces, laid_out)
    return True


def remember_written(root: str) -> None:
    """At the run's end: each `dvc.lock` this process wrote last, when
    `lockyaml` laid out every entry of it (so the text is `whole_text` of its
    data, the very check `canonical_pieces` makes after parsing), for the next
    run's reads to take without parsing it (`dvcreads.remember_locks`)."""
    from .. import dvcreads

    written = [
        (os.fspath(path), text, data["stages"])
        for path, (stamp, data, text, _, laid_out) in _CACHE.items()
        if laid_out and stamp == _stat_key(path) and text.startswith(lockyaml.HEAD)
    ]
    if written:
        dvcreads.remember_locks(root, written)


def _load(path: Path, root: str) -> tuple[Any, str, Pieces | None, bool]:
    """The data of ``path``, its text, its pieces when the text is laid out
    as DVC's dumper lays it out (else None, and DVC's round-trip data), and
    whether `lockyaml` lays out every entry so; `stages` present, schema first."""
    from dvc.utils.serialize import parse_yaml_for_update

    hit = _CACHE.get(path)
    if hit is not None and hit[0] == _stat_key(path):
        return hit[1], hit[2], hit[3], hit[4]
    _CACHE.pop(path, None)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    # DVC's own layout (what DVC or an earlier run wrote): read fast, spliced
    found = _written(root, path, text) or (lockyaml.canonical_pieces(text) if text else ({}, {}))
    if found is not None:
        stages, parts = found
        return {"schema": "2.0", "stages": stages}, text, (lockyaml.HEAD, parts), True
    data = parse_yaml_for_update(text, os.fspath(path))
    if not data:
        data.update({"schema": "2.0"})  # as DVC: the schema first
    data["stages"] = data.get("stages", {})
    return data, text, None, False


def _written(root: str, path: Path, text: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(stages, pieces) of the text an earlier run wrote (`remember_written`)."""
    from .. import dvcreads

    stages = dvcreads.written_lock(root, os.fspath(path), text) if text else None
    pieces = _split(text, {"stages": stages}) if stages is not None else None
    if pieces is None or pieces[0] != lockyaml.HEAD:
        return None
    return stages, pieces[1]


# A dump cut into the text before the first stage entry and each entry's text:
# DVC's dumper lays out each entry of `stages` alone (indented by two under
# `stages:`, the file's last key), so an entry is re-dumped alone and the file
# is the pieces joined (tests/unit/test_runtime_helpers.py checks it on every
# corpus `dvc.lock`).
Pieces = tuple[str, dict[str, str]]


def _split(text: str, data: Any) -> Pieces | None:
    """``text`` (a dump of ``data``) as pieces, or None when it is not laid
    out as expected (then every batch dumps the whole file)."""
    names = list(data["stages"])
    if not names or list(data)[-1] != "stages" or "\nstages:\n" not in f"\n{text}":
        return None
    cut = f"\n{text}".index("\nstages:\n") + len("stages:\n")
    head, lines = text[:cut], text[cut:].splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _is_key_line(line)]
    if len(starts) != len(names) or (starts and starts[0] != 0):
        return None
    ends = starts[1:] + [len(lines)]
    parts = {n: "".join(lines[a:b]) for n, a, b in zip(names, starts, ends, strict=True)}
    if not all(_plain(name, piece) for name, piece in parts.items()):
        return None
    return head, parts


def _plain(name: str, piece: str) -> bool:
    """An entry whose key YAML writes as is, on its own line: a quoted or
    folded key (quotes, a newline) could span lines the split cannot tell
    from entries, so such a file is always dumped whole."""
    return piece.startswith(f"  {name}:\n")


def _is_key_line(line: str) -> bool:
    """A key of `stages` (indented by two; not a list item or a complex key)."""
    return line.startswith("  ") and not line.startswith(("   ", "  - ", "  ? ", "  \n"))


def _entry_text(name: str, entry: Any) -> str:
    fast = lockyaml.entry_text(name, entry)
    if fast is not None:
        return fast
    return _yaml_text({"stages": {name: entry}}).removeprefix("stages:\n")


def _keep_rank_order(path: Path, entries: Any, added: set[str], rank: Rank) -> bool:
    """Move the entries added by this process (the file's tail) into rank
    order; True when they were in it already (unranked ones go first)."""
    tail = [name for name in entries if name in added]
    ordered = sorted(tail, key=lambda name: rank.get((os.fspath(path), name), -1))
    if ordered == tail:
        return True
    for name in ordered:
        entries[name] = entries.pop(name)  # to the end (a dict or DVC's CommentedMap)
    return False


# lock file -> (its stat when we wrote it, the round-trip data, the text, its
# pieces, whether `lockyaml` laid out every entry): the next batch skips the
# parse and the dump of unchanged entries, unless someone else wrote the file
_CACHE: dict[Path, tuple[tuple[int, ...], Any, str, Pieces | None, bool]] = {}


def _stat_key(path: Path) -> tuple[int, ...]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _yaml_text(data: Any) -> str:
    from dvc.utils.serialize._yaml import _dump

    stream = io.StringIO()
    _dump(data, stream)
    return stream.getvalue()


def write_lockfile(path: Path, text: str) -> None:
    """Replace ``path`` by ``text``, durably. Callers hold DVC's repo lock,
    so temp files found here were left by a writer killed before its rename.
    A file DVC could not open for writing (a read-only `dvc.lock`) is refused
    as DVC refuses it, not replaced."""
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    write_atomic(path, text, durable=True)


class PendingWrites:
    """Stages DVC recorded that are not yet in `dvc.lock`, with the journal
    entries to delete once they are. Writes are spaced by a few times their
    own cost: with 500 stages in one `dvc.lock`, one rewrite costs about a second."""

    def __init__(self, order: Sequence[Any]) -> None:
        """``order``: the project's DVC stages, in the order `dvc repro` would add them."""
        self.rank = {id(stage): i for i, stage in enumerate(order)}
        self.lock_rank = ranks(order)
        self.unwritten: list[Any] = []
        self.journalled: list[str] = []
        self._next_write = 0.0

    def add(self, stages: Iterable[Any], journalled: Iterable[str]) -> None:
        self.unwritten += stages
        self.journalled += journalled

    def __bool__(self) -> bool:
        return bool(self.unwritten)

    def due(self) -> bool:
        return time.monotonic() >= self._next_write

    def write(self) -> tuple[int, list[str]]:
        """Write every pending stage; (1 if `dvc.lock` files were written else 0,
        the journal entries now safe to delete)."""
        started = time.monotonic()
        written = 0
        if self.unwritten:
            self.unwritten.sort(key=lambda stage: self.rank[id(stage)])
            dump_stages(self.unwritten, self.lock_rank)
            written = 1
        journalled = self.journalled
        self.unwritten, self.journalled = [], []
        spent = time.monotonic() - started
        self._next_write = time.monotonic() + min(max(4 * spent, 0.2), 10.0)
        return written, journalled
