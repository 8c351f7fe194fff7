"""DVC's YAML reads and writes, without pure-Python ruamel where the result is the same.

DVC parses `dvc.yaml` and `dvc.lock` and dumps `dvc.lock` and run-cache
entries with ruamel in pure Python. A run's plan does it on Snakemake's main
thread before any job starts, and the coordinator in the same interpreter
(issue 18, goal 3: 400 tiny stages). `install` (idempotent) changes three of
DVC's methods in this process:

- `Lockfile._load_yaml`: a `dvc.lock` laid out exactly as DVC's dumper
  writes its content reads to the same data with libyaml
  (`lockyaml.canonical_pieces`); the very text a run of this package wrote
  last (`remember_locks`, when `lockyaml` laid out all of it) is not even
  parsed: its data is kept in the same cache by the text's sha256 (a rerun
  of 400 stages parses its `dvc.lock` in 0.1 s, on the way to its first
  job); DVC's schema still validates either;
- `ProjectFile._load_yaml`: a `dvc.yaml` whose exact text DVC parsed and
  validated before (an export, the last run) gives the data DVC produced
  then, kept in `.paraffin/cache/dvcyaml.json` by the text's sha256 with the
  versions of DVC and ruamel; only data JSON gives back with the very same
  types is kept;
- DVC's YAML dumper: the documents `lockyaml` lays out byte for byte as
  ruamel does are written without it.

Round-trip reads (DVC editing a file) and anything else go through DVC.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from typing import Any

from . import lockyaml, paths
from .atomic import write_atomic
from .paths import CACHE_DIR

FORMAT = 1
FILE = f"{CACHE_DIR}/dvcyaml.json"
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from dvc.dvcfile import Lockfile, ProjectFile

    _wrap(Lockfile, _lock_data)
    _wrap(ProjectFile, _cached_pipeline)
    _fast_dumps()
    _installed = True


def _wrap(cls: Any, fast: Any) -> None:
    original = cls._load_yaml

    def _load_yaml(self: Any, **kwargs: Any) -> tuple[Any, str]:
        if kwargs.get("round_trip"):
            return original(self, **kwargs)
        return fast(self, lambda: original(self, **kwargs))

    cls._load_yaml = _load_yaml


def _text(dvcfile: Any) -> str | None:
    try:
        with dvcfile.repo.fs.open(dvcfile.path, encoding="utf-8") as handle:
            return str(handle.read())
    except (OSError, UnicodeDecodeError):
        return None  # DVC's own read says what is wrong


def _lock_data(lockfile: Any, dvc_read: Any) -> tuple[Any, str]:
    text = _text(lockfile)
    root = getattr(lockfile.repo, "root_dir", None)
    known = None
    if text is not None and root is not None and not getattr(lockfile.repo.fs, "rev", None):
        known = written_lock(root, lockfile.path, text)
    found = (known, {}) if known is not None else None
    if found is None and text is not None:
        found = lockyaml.canonical_pieces(text)
    if found is None:
        return dvc_read()
    data = {"schema": "2.0", "stages": found[0]}
    from dvc.utils.strictyaml import validate

    try:
        validate(data, lockfile.SCHEMA, text=text, path=lockfile.path)
    except Exception:  # noqa: BLE001 - DVC's own read says what is wrong, in its words
        return dvc_read()
    return data, text


def _cached_pipeline(project: Any, dvc_read: Any) -> tuple[Any, str]:
    """A `dvc.yaml` DVC read (and validated) before, by its exact text."""
    root = getattr(project.repo, "root_dir", None)
    text = _text(project)
    if root is None or text is None or getattr(project.repo.fs, "rev", None):
        return dvc_read()  # not the workspace (a git revision): DVC
    key, rel = _key(text), os.path.relpath(project.path, root)
    cache = _load_cache(os.path.join(root, FILE))
    entry = cache["files"].get(rel)
    if entry is not None and entry.get("key") == key:
        return json.loads(entry["data"]), text  # new objects: DVC's own to change
    data, read = dvc_read()
    stored = _json_exact(data)
    if read == text and stored is not None:
        cache["files"][rel] = {"key": key, "data": stored}
        try:
            paths.ensure_ignored(root)
            os.makedirs(os.path.join(root, CACHE_DIR), exist_ok=True)
            write_atomic(os.path.join(root, FILE), json.dumps(cache))
        except OSError:
            pass  # no cache: DVC reads it next time
    return data, read


def remember_locks(root: str, written: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Each (path, text, stages) of ``written``: ``text``, the `dvc.lock` at
    ``path`` this process just wrote, is `lockyaml.whole_text` of ``stages``;
    the next read takes them from the cache (`written_lock`) instead of
    parsing it. Kept only when JSON gives them back with the same types; an
    unwritable cache keeps nothing."""
    file = os.path.join(root, FILE)
    cache = _load_cache(file)
    kept = 0
    for path, text, stages in written:
        stored = _json_exact({"stages": _dicts(stages)})
        if stored is not None:
            cache["files"][os.path.relpath(path, root)] = {"key": _key(text), "data": stored}
            kept += 1
    if not kept:
        return
    try:
        paths.ensure_ignored(root)
        os.makedirs(os.path.join(root, CACHE_DIR), exist_ok=True)
        write_atomic(file, json.dumps(cache))
    except OSError:
        pass


def _dicts(data: Any) -> Any:
    """DVC's serializer's OrderedDicts as the dicts a parse gives."""
    if isinstance(data, dict):
        return {k: _dicts(v) for k, v in data.items()}
    if type(data) is list:
        return [_dicts(v) for v in data]
    return data


def written_lock(root: str, path: str, text: str) -> dict[str, Any] | None:
    """The stages of `dvc.lock` ``text`` at ``path`` when this package wrote
    that very text last (`remember_locks`), else None."""
    entry = _load_cache(os.path.join(root, FILE))["files"].get(os.path.relpath(path, root))
    if entry is None or entry.get("key") != _key(text):
        return None
    stages = json.loads(entry["data"]).get("stages")
    return stages if isinstance(stages, dict) else None


def _key(text: str) -> str:
    versions = f"{version('dvc')}\0{version('ruamel.yaml')}\0{FORMAT}\0"
    return hashlib.sha256((versions + text).encode("utf-8")).hexdigest()


def _load_cache(path: str) -> dict[str, Any]:
    """The cache file, read once per version of it in this process (each
    entry's data stays JSON text until it is used). The caller may add
    entries: the file it then writes is a new version, read again."""
    try:
        st = os.stat(path)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if path in _MEMO and _MEMO[path][0] == stamp:
            return _MEMO[path][1]
        with open(path, encoding="utf-8") as handle:
            cache = json.load(handle)
        if cache.get("format") == FORMAT and isinstance(cache.get("files"), dict):
            _MEMO[path] = (stamp, cache)
            return cache
    except (OSError, ValueError):
        pass
    return {"format": FORMAT, "files": {}}


_MEMO: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}


def _json_exact(data: Any) -> str | None:
    """``data`` as JSON text when JSON gives it back with the same values
    and types (not dates, non-string keys, NaN: the safe loader can give them)."""
    try:
        text = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if _same(data, json.loads(text)) else None


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _fast_dumps() -> None:
    """DVC's YAML dumper (run-cache entries, `dvc.lock`): ruamel, pure
    Python; the documents `lockyaml` lays out byte for byte as it does are
    written without it."""
    from dvc.utils.serialize import _yaml

    original = _yaml._dump

    def _dump(data: Any, stream: Any) -> Any:
        text = lockyaml.document_text(data)
        if text is None:
            return original(data, stream)
        stream.write(text)
        return None

    _yaml._dump = _dump
