"""`dvcreads`: a `dvc.yaml` DVC read before gives DVC the very data its own
read gives, by exact text; anything else is read by DVC."""

from __future__ import annotations

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
