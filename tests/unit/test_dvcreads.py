"""`dvcreads`: a `dvc.yaml` DVC read before gives DVC the very data its own
read gives, by exact text; anything else is read by DVC."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import CORPUS

from paraffin_export import dvcreads


def _project(root: Path) -> Any:
    from dvc.fs import LocalFileSystem

    repo = SimpleNamespace(fs=LocalFileSystem(), root_dir=str(root))
    return SimpleNamespace(path=str(root / "dvc.yaml"), repo=repo)


def _dvc_read(path: Path) -> Any:
    """DVC's own read of a `dvc.yaml` (`ProjectFile._load_yaml` unchanged)."""
    from dvc.dvcfile import ProjectFile
    from dvc.fs import LocalFileSystem
    from dvc.utils.strictyaml import load

    return lambda: load(str(path), ProjectFile.SCHEMA, LocalFileSystem())


def test_every_corpus_pipeline_comes_back_as_dvc_read_it(tmp_path: Path) -> None:
    cached = 0
    for i, source in enumerate(sorted(CORPUS.rglob("dvc.yaml"))):
        root = tmp_path / str(i)
        root.mkdir()
        (root / "dvc.yaml").write_text(source.read_text())
        project, dvc = _project(root), _dvc_read(root / "dvc.yaml")
        first = dvcreads._cached_pipeline(project, dvc)  # a miss: DVC's read, kept
        again = dvcreads._cached_pipeline(project, lambda: pytest.fail("not cached"))
        assert dvcreads._same(again[0], dvc()[0]) and again[1] == first[1], source
        cached += 1
    assert cached >= 10


def test_only_the_same_text_hits(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo 1\n")
    project, dvc = _project(tmp_path), _dvc_read(tmp_path / "dvc.yaml")
    dvcreads._cached_pipeline(project, dvc)
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo 2\n")
    data, _ = dvcreads._cached_pipeline(project, dvc)
    assert data == {"stages": {"a": {"cmd": "echo 2"}}}


def test_what_dvc_refuses_or_json_cannot_keep_is_never_cached(tmp_path: Path) -> None:
    from dvc.utils.strictyaml import YAMLValidationError

    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmdd: echo 1\n")
    project, dvc = _project(tmp_path), _dvc_read(tmp_path / "dvc.yaml")
    for _ in range(2):  # refused both times: nothing kept
        with pytest.raises(YAMLValidationError):
            dvcreads._cached_pipeline(project, dvc)
    cases = (
        "vars:\n  - when: 2024-01-02\nstages:\n  a:\n    cmd: echo 1\n",  # a date
        "vars:\n  - 1: one\nstages:\n  a:\n    cmd: echo 1\n",  # an int key
        "vars:\n  - x: .nan\nstages:\n  a:\n    cmd: echo 1\n",  # NaN
    )
    for text in cases:
        (tmp_path / "dvc.yaml").write_text(text)
        data, _ = dvcreads._cached_pipeline(project, dvc)
        assert repr(data) == repr(dvc()[0])
        cache = tmp_path / dvcreads.FILE
        kept = json.loads(cache.read_text())["files"] if cache.exists() else {}
        assert not kept, text


def _lock(root: Path) -> Any:
    from dvc.fs import LocalFileSystem
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA

    repo = SimpleNamespace(fs=LocalFileSystem(), root_dir=str(root))
    return SimpleNamespace(path=str(root / "dvc.lock"), repo=repo, SCHEMA=COMPILED_LOCKFILE_SCHEMA)


def _remembered(root: Path, stages: dict[str, Any]) -> str | None:
    """What a run that wrote ``stages`` leaves (`lockfile.remember_written`
    keeps only a text `lockyaml` laid out whole): the text, or None."""
    from paraffin_export import lockyaml

    laid = lockyaml.whole_text(stages)
    if laid is None:
        return None
    (root / "dvc.lock").write_text(laid[0])
    dvcreads.remember_locks(str(root), [(str(root / "dvc.lock"), laid[0], stages)])
    return laid[0]


def test_a_dvc_lock_a_run_wrote_comes_back_as_dvc_reads_it(tmp_path: Path) -> None:
    """Every corpus `dvc.lock`'s entries, as DVC's serializer gives them
    (OrderedDicts), written by a run: the next read takes them from the cache,
    without a parse, equal to DVC's own read of the file; one byte more and
    the file is parsed again."""
    from collections import OrderedDict

    from dvc.utils.serialize import parse_yaml
    from dvc.utils.strictyaml import load

    def serialized(value: Any) -> Any:
        if isinstance(value, dict):
            return OrderedDict((k, serialized(v)) for k, v in value.items())
        return [serialized(v) for v in value] if isinstance(value, list) else value

    usual = tmp_path / "usual.lock"  # what tiny stages leave: lockyaml lays out every entry
    usual.write_text(dvcreads.lockyaml.whole_text({f"s{i}": _usual(i) for i in range(50)})[0])
    kept = 0
    for i, source in enumerate([usual, *sorted(CORPUS.rglob("dvc.lock"))]):
        root = tmp_path / str(i)
        root.mkdir()
        stages = parse_yaml(source.read_text(), str(source))["stages"]
        text = _remembered(root, {k: serialized(v) for k, v in stages.items()})
        if text is None:
            continue
        lock = _lock(root)
        data, read = dvcreads._lock_data(lock, lambda: pytest.fail("parsed"))
        truth = load(lock.path, lock.SCHEMA)
        assert read == text and dvcreads._same(data, truth[0]), source
        assert dvcreads.written_lock(str(root), lock.path, text + "\n") is None
        kept += 1
    assert kept >= 2  # most corpus entries are left to ruamel (`lockyaml` declines them)


def _usual(i: int) -> dict[str, Any]:
    md5 = hashlib.md5(str(i).encode()).hexdigest()
    return {
        "cmd": f"mkdir -p out && echo {i} > out/w{i}",
        "deps": [{"path": f"in/w{i}", "hash": "md5", "md5": md5, "size": i}],
        "outs": [{"path": f"out/w{i}", "hash": "md5", "md5": md5, "size": 2}],
    }
