"""The IR of an unchanged project, without asking DVC again (issue 18).

Loading a project through DVC costs seconds on big projects; a re-export of an
unchanged one should not. After a load, we keep under ``.paraffin/cache/``
the IR (JSON, never pickle: the directory is inside a repository someone else
may have written) and what the load depended on:

- every file of the project the load opened (dvc.yaml, dvc.lock, params and
  vars files, .dvcignore, DVC's config, paraffin.yaml), by the sha256 of its
  content; not DVC's and git's state (.dvc/tmp, .dvc/cache, .git), nor the
  data a status hashes (`untraced`);
- every directory of the workspace by its mtime_ns, so a file that appears
  or goes (a new dvc.yaml, a params file a stage checks for) is seen; a
  directory modified within ``RACY_NS`` of the snapshot also keeps its
  listing (a change inside the same clock tick leaves mtime as it was);
- the versions of paraffin-export, DVC and Python, and the config path.

Anything different, missing or unreadable: the cache is ignored and DVC
loads the project. Not watched: `.git`, `.dvc`, `.hg`, `.paraffin` and
`.snakemake` directories (tool state, where no pipeline lives).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import paths
from .ir import Labels, Limit, Out, Param, Pipeline, Stage

CACHE_DIR = paths.CACHE_DIR
FORMAT = 1
PRUNE = frozenset({".git", ".dvc", ".hg", ".paraffin", ".snakemake"})
RACY_NS = 2_000_000_000
# files whose mere presence can change a load (DVC's default params, stage
# and ignore files, our config), besides every file a load opened
KNOWN = frozenset({"dvc.yaml", "dvc.yml", "dvc.lock", "params.yaml", ".dvcignore", "paraffin.yaml"})


def lookup(root: Path, config: Path | None) -> Pipeline | None:
    """The cached IR when nothing it was built from changed, else None."""
    found = lookup_with_inputs(root, config)
    return None if found is None else found[0]


def lookup_with_inputs(root: Path, config: Path | None) -> tuple[Pipeline, dict[str, str]] | None:
    """The cached IR and the digests of the files it was read from (as they
    are now: checked), or None."""
    try:
        with open(_path(root, config), encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") != FORMAT or data.get("key") != _key(root, config):
            return None
        if not _unchanged(root, data["inputs"]):
            return None
        return _pipeline(data["pipeline"]), data["inputs"]["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def recording(root: Path, config: Path | None) -> Iterator[dict[str, Any]]:
    """Around a load: note what it opens; ``rec["pipeline"] = ...`` to store."""
    started = time.time_ns()
    snapshot = _snapshot(root)
    opened: dict[str, str | None] = {}
    rec: dict[str, Any] = {}
    warned = _Warned()
    logger = logging.getLogger("paraffin_export")
    logger.addHandler(warned)
    try:
        with _tracing(opened, os.path.join(os.fspath(root), "")):
            yield rec
    finally:
        logger.removeHandler(warned)
    # a load that warned warns again next time: not cached
    if "pipeline" in rec and not warned.seen:
        _store(root, config, rec["pipeline"], _watched(snapshot, opened, started), opened)


class _Warned(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = False

    def emit(self, record: logging.LogRecord) -> None:
        self.seen = True


def _store(
    root: Path, config: Path | None, pipeline: Pipeline, dirs: dict, opened: dict[str, str | None]
) -> None:
    from .atomic import write_atomic
    from .errors import ParaffinError

    files = {}
    # files outside the project (git's and DVC's global config, /proc) do not
    # make the IR; an explicit --config does
    keep = set(opened)
    if config is not None:
        keep.add(os.path.abspath(config))
    for path in sorted(keep):
        digest = _digest(path)
        # taken when the load opened it (under DVC's lock for dvc.lock): a file
        # rewritten since then may not match the IR, which is then not cached
        if digest is None or opened.get(path, digest) != digest:
            return
        files[path] = digest
    data = {
        "format": FORMAT,
        "key": _key(root, config),
        "inputs": {"dirs": dirs, "files": files},
        "pipeline": _plain(pipeline),
    }
    try:  # `.paraffin` is not watched: making it changes no listing
        paths.ensure_ignored(root)
        path = _path(root, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, separators=(",", ":")))
    except (OSError, ParaffinError):
        pass  # a read-only checkout: no cache, same result


def _path(root: Path, config: Path | None) -> Path:
    name = "ir" if config is None else "ir-" + hashlib.sha256(os.fsencode(config)).hexdigest()[:16]
    return root / CACHE_DIR / f"{name}.json"


def _key(root: Path, config: Path | None) -> list[str]:
    from . import __version__, dvc_version

    return [__version__, dvc_version(), sys.version, os.fspath(root), os.fspath(config or "")]


def _snapshot(root: Path) -> dict[str, tuple[int, list[str], list[str]]]:
    """dir -> (mtime_ns, subdirectory names, file names), every dir DVC walks
    (and `.dvc` itself, not below: where config.local may appear)."""
    found: dict[str, tuple[int, list[str], list[str]]] = {}
    todo = [os.fspath(root)]
    while todo:
        path = todo.pop()
        listed = _listing(path)
        if listed is None:
            continue
        found[path] = listed
        todo += [os.path.join(path, d) for d in listed[1]]
    dvc_dir = os.path.join(root, ".dvc")
    listed = _listing(dvc_dir)
    if listed is not None:
        found[dvc_dir] = (listed[0], [], listed[2])
    return found


def _listing(path: str) -> tuple[int, list[str], list[str]] | None:
    try:
        mtime = os.stat(path).st_mtime_ns
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return None
    dirs = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    files = sorted(e.name for e in entries if not e.is_dir(follow_symlinks=False))
    return mtime, [d for d in dirs if d not in PRUNE], files


def _watched(
    snapshot: dict[str, Any], opened: dict[str, str | None], started: int
) -> dict[str, list[Any]]:
    """What to compare later: per dir, its subdirs and the file names a load
    can depend on by their presence alone; mtime as the shortcut, except for
    a dir changed during the load's clock tick (then the names are compared)."""
    read = {os.path.basename(p) for p in opened}
    out = {}
    for path, (mtime, dirs, files) in snapshot.items():
        names = [f for f in files if f in read or f in KNOWN or f.endswith(".dvc")]
        racy = mtime >= started - RACY_NS
        out[path] = [None if racy else mtime, dirs, names]
    return out


def _unchanged(root: Path, inputs: dict[str, Any]) -> bool:
    for path, (mtime, dirs, names) in inputs["dirs"].items():
        try:
            if mtime is not None and os.stat(path).st_mtime_ns == mtime:
                continue
        except OSError:
            return False
        listed = _listing(path)
        if listed is None:
            return False
        keep = set(names)
        now_dirs = listed[1] if path != os.path.join(root, ".dvc") else []
        now_names = [f for f in listed[2] if f in keep or f in KNOWN or f.endswith(".dvc")]
        if now_dirs != dirs or now_names != names:
            return False
    return all(_digest(path) == digest for path, digest in inputs["files"].items())


def _digest(path: str) -> str | None:
    try:
        with _real_open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


_real_open = builtins.open


_paused = False


@contextmanager
def untraced() -> Iterator[None]:
    """Reads that do not make the IR (a stage's status hashes its data)."""
    global _paused
    before, _paused = _paused, True
    try:
        yield
    finally:
        _paused = before


@contextmanager
def _tracing(opened: dict[str, str | None], inside: str) -> Iterator[None]:
    """Every regular file under ``inside`` opened for reading meanwhile, by
    absolute path, with its digest taken just before its first open (so a
    file replaced after that never matches the IR built from it)."""

    state = tuple(os.path.join(inside, d, "") for d in (".git", ".dvc/tmp", ".dvc/cache", *PRUNE))

    def traced(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if not _paused and isinstance(file, str | bytes | os.PathLike) and "r" in mode:
            path = os.path.abspath(os.fsdecode(file))
            if (
                path.startswith(inside)
                and not path.startswith(state)
                and path not in opened
                and os.path.isfile(path)
            ):
                opened[path] = _digest(path)
        return _real_open(file, mode, *args, **kwargs)

    builtins.open = io.open = traced  # type: ignore[assignment]
    try:
        yield
    finally:
        builtins.open = io.open = _real_open  # type: ignore[assignment]


def _plain(pipeline: Pipeline) -> dict[str, Any]:
    return {
        # the status of a load is never cached (the IR's `changed`)
        "stages": [{**asdict(s), "changed": None} for s in pipeline.stages],
        "edges": [list(e) for e in pipeline.edges],
        "limits": [asdict(lim) for lim in pipeline.limits],
        "project": pipeline.project,
        "root": pipeline.root,
    }


def _pipeline(data: dict[str, Any]) -> Pipeline:
    return Pipeline(
        stages=tuple(_stage(s) for s in data["stages"]),
        edges=tuple((a, b) for a, b in data["edges"]),
        limits=tuple(Limit(**lim) for lim in data["limits"]),
        project=data["project"],
        root=data["root"],
    )


def _stage(s: dict[str, Any]) -> Stage:
    labels = dict(s["labels"])
    labels["resources"] = tuple((k, v) for k, v in labels["resources"])
    labels["limits"] = tuple(labels["limits"])
    return Stage(
        **{
            **s,
            "cmd": tuple(s["cmd"]),
            "deps": tuple(s["deps"]),
            "outs": tuple(Out(**o) for o in s["outs"]),
            "params": tuple(Param(p["file"], tuple(p["keys"])) for p in s["params"]),
            "labels": Labels(**labels),
        }
    )
