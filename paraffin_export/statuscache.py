"""`paraffin stale` without DVC when nothing changed since DVC last said so
(issue 18).

After a status through DVC, every stage DVC found unchanged is recorded in
``.paraffin/cache/status.json`` with what its status depends on:

- the digests of the files the IR was read from (`ircache`: dvc.yaml,
  dvc.lock, params, vars, .dvcignore) and of DVC's config files, for all;
- per stage: its dvc.yaml, dvc.lock and params files by content; each dep
  and out (every file below a directory) by inode, size, mtime_ns and
  ctime_ns, and by content when small (64 KiB); the cache objects its
  dvc.lock entry names, by presence and size.

Recorded only when all of it read the same before and after DVC's status.
A later `stale` whose stages all match answers without DVC; anything
unknown or different, and DVC answers (and the record is renewed). A large
file changed within the last 2 s is not recorded (its stat could still
change within the same clock tick); a project whose DVC config mentions a
cache (another cache dir) is not recorded at all, nor one with `.dvc` files
(`dvc add`-ed data, imports): `dvc repro` verifies those data sources first
and commits a changed one (`runtime.datasources`), and a change to one (data
inside an added directory no stage names, an object gone from the cache)
shows in no stage's fingerprint; so DVC answers every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import ircache, paths
from .ir import Pipeline, Stage
from .staleness import StageStatus, own_stale

FILE = f"{paths.CACHE_DIR}/status.json"
FORMAT = 2
SMALL = 64 << 10
RACY_NS = 2_000_000_000
CACHE = ".dvc/cache/files/md5"


def lookup(root: Path) -> Pipeline | None:
    """The pipeline with every stage's status known without DVC, or None."""
    found = ircache.lookup_with_inputs(root, None)
    if found is None:
        return None
    pipeline, inputs = found
    if _has_sources(inputs):
        return None
    try:
        with open(root / FILE, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if data.get("key") != _key(root, inputs):
        return None
    memo: dict[Any, Any] = {}
    now = time.time_ns()
    for stage in pipeline.stages:
        seen = data["stages"].get(stage.address)
        if stage.always_changed or seen is None:
            return None
        if seen["fp"] != _fingerprint(root, stage, memo, now):
            return None
        if not all(_object(os.path.join(root, p)) == size for p, size in seen["objects"]):
            return None
    return replace(pipeline, stages=tuple(replace(s, changed=False) for s in pipeline.stages))


def known_clean(
    root: Path, addresses: Iterable[str]
) -> tuple[dict[str, StageStatus], set[tuple[str, str]]] | None:
    """Every stage of ``addresses`` up to date by this cache (nothing changed
    since DVC last said so): the states and edges DVC would give, or None."""
    pipeline = lookup(root)
    if pipeline is None:
        return None
    states = {
        s.address: StageStatus(s.address, False, s.frozen, s.always_changed)
        for s in pipeline.stages
    }
    if any(a not in states for a in addresses):
        return None  # DVC says which ones are gone
    return states, set(pipeline.edges)


def observe(root: Path) -> tuple[str, dict[str, str | None]] | None:
    """Before DVC's status: the key and each stage's fingerprint, or None."""
    found = ircache.lookup_with_inputs(root, None)
    if found is None:
        return None
    pipeline, inputs = found
    now, digests = time.time_ns(), {}
    fps = {s.address: _fingerprint(root, s, digests, now) for s in pipeline.stages}
    return _key(root, inputs), fps


def record_changed(root: Path, changed: dict[str, bool | None], before: Any) -> None:
    """`record` from DVC's status per address (a Snakefile's plan)."""
    found = ircache.lookup_with_inputs(root, None)
    if found is not None:
        stages = tuple(replace(s, changed=changed.get(s.address)) for s in found[0].stages)
        record(root, replace(found[0], stages=stages), before)


def record(root: Path, pipeline: Pipeline, before: tuple[str, dict] | None) -> None:
    """After DVC's status (``pipeline``): keep the unchanged stages whose
    inputs read the same as ``before``."""
    found = ircache.lookup_with_inputs(root, None)
    if before is None or found is None or _key(root, found[1]) != before[0]:
        return
    if _has_sources(found[1]):
        return
    now, digests, locks = time.time_ns(), {}, {}
    stages = {}
    for stage in pipeline.stages:
        if own_stale(stage.always_changed, stage.changed):
            continue
        fp = _fingerprint(root, stage, digests, now)
        objects = _objects(root, stage, locks)
        if fp is None or fp != before[1].get(stage.address) or objects is None:
            continue
        stages[stage.address] = {"fp": fp, "objects": objects}
    from .atomic import write_atomic

    try:
        paths.ensure_ignored(root)
        text = json.dumps({"format": FORMAT, "key": before[0], "stages": stages})
        write_atomic(root / FILE, text)
    except Exception:  # noqa: BLE001 - no record, same answer next time (from DVC)
        pass


def _has_sources(inputs: dict[str, str]) -> bool:
    """Whether the load read a `.dvc` file (a data-source or import stage)."""
    return any(path.endswith(".dvc") and os.path.isfile(path) for path in inputs)


def _key(root: Path, inputs: dict[str, str]) -> str:
    from . import __version__, dvc_version

    configs = [root / ".dvc" / "config", root / ".dvc" / "config.local"]
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    configs += [Path(xdg) / "dvc" / "config", Path("/etc/xdg/dvc/config")]
    texts = {str(p): _read(p) for p in configs}
    if any(t is not None and b"cache" in t for t in texts.values()):
        return "another cache dir: not recorded"
    parts = [FORMAT, __version__, dvc_version(), sorted(inputs.items())]
    parts.append({p: _sha(t) for p, t in texts.items()})
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _fingerprint(root: Path, stage: Stage, memo: dict[Any, Any], now: int) -> str | None:
    """What the stage's status depends on in the workspace; None: cannot tell.
    ``memo`` holds digests and states already taken in this pass (a stage's
    outs are the deps of the stages below it)."""
    base = os.fspath(root)
    dvcfile = os.path.join(base, stage.dvcfile)
    files = [dvcfile, os.path.join(os.path.dirname(dvcfile), "dvc.lock")]
    files += [os.path.join(base, p.file) for p in stage.params]
    parts: list[Any] = [[f, _digest(f, memo)] for f in files]
    for path in (*stage.deps, *(o.path for o in stage.outs)):
        if "://" in path:
            return None
        full = os.path.join(base, path)
        if ("state", full) not in memo:
            memo["state", full] = _state(full, now)
        if memo["state", full] is None:
            return None
        parts.append([path, memo["state", full]])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _state(path: str, now: int) -> Any:
    """A file: its stat, and its content when small; a dir: every file below
    it; None for what cannot be told apart safely (links, large files
    changed within ``RACY_NS``: a write in the same clock tick as the stat
    can leave size, mtime and ctime as they were)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    if stat.S_ISDIR(st.st_mode):
        below = []
        for dirpath, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(dirpath, name)
                state = _state(full, now)
                if state is None:
                    return None
                below.append([os.path.relpath(full, path), state])
        return below
    if not stat.S_ISREG(st.st_mode):
        return None
    meta = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    if st.st_size <= SMALL:
        return [*meta, _sha(_read(path))]
    if max(st.st_mtime_ns, st.st_ctime_ns) >= now - RACY_NS:
        return None
    return meta


def _objects(root: Path, stage: Stage, locks: dict[str, Any]) -> list[list[Any]] | None:
    """The cache objects of the stage's cached outs (from its dvc.lock entry),
    each with its size; None when one is missing or not in DVC 3's layout."""
    lockfile = str(Path(stage.dvcfile).with_name("dvc.lock"))
    if lockfile not in locks:
        import yaml

        text = _read(root / lockfile)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        locks[lockfile] = (yaml.load(text, Loader=loader) or {}) if text else {}
    entry = (locks[lockfile].get("stages") or {}).get(stage.name) or {}
    by_path = {o.get("path"): o for o in entry.get("outs") or []}
    found: list[list[Any]] = []
    for out in stage.outs:
        if not out.cache:
            continue
        rel = os.path.relpath(out.path, stage.wdir) if stage.wdir != "." else out.path
        lock_out = by_path.get(Path(rel).as_posix())
        md5 = (lock_out or {}).get("md5")
        if not md5 or lock_out.get("hash") != "md5":
            return None
        oids = [md5]
        if md5.endswith(".dir"):
            tree = _read(root / CACHE / md5[:2] / md5[2:])
            if tree is None:
                return None
            oids += [item["md5"] for item in json.loads(tree)]
        for oid in oids:
            rel_obj = f"{CACHE}/{oid[:2]}/{oid[2:]}"
            size = _object(root / rel_obj)
            if size is None:
                return None
            found.append([rel_obj, size])
    return found


def _object(path: Path | str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _digest(path: str, memo: dict[Any, Any]) -> str | None:
    if ("digest", path) not in memo:
        memo["digest", path] = _sha(_read(path))
    return memo["digest", path]


def _read(path: Path | str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()
