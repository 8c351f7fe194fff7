"""The `paraffin` runner's pure helpers, without a workflow engine: the journal
fingerprint, the one atomic write, and `dvc.lock` pieces laid out as DVC's own dump."""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import CORPUS

from paraffin_export.atomic import write_atomic
from paraffin_export.runtime import lockfile
from paraffin_export.runtime.journal import fingerprint


def test_fingerprint_sees_writes(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("1")
    paths = [str(tmp_path / "d"), str(tmp_path / "missing")]
    before = fingerprint(paths)
    assert fingerprint(paths) == before
    time.sleep(0.01)
    (tmp_path / "d" / "f").write_text("22")
    assert fingerprint(paths) != before


def test_write_atomic_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "dvc.lock"
    path.write_text("old")
    path.chmod(0o640)
    lockfile.write_lockfile(path, "new")
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["dvc.lock"]


def test_write_atomic_leaves_no_temp_file(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.json", "1", durable=True)
    write_atomic(str(tmp_path / "a.json"), "2")
    assert (tmp_path / "a.json").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    with pytest.raises(TypeError):
        write_atomic(tmp_path / "c.json", object())  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_entries_dumped_alone_and_spliced_equal_a_whole_dump() -> None:
    """lockfile's in-place update: a dump cut into pieces, some entries
    re-dumped alone, added or moved, joined, gives the bytes of dumping the
    whole file (on every corpus `dvc.lock`)."""
    from dvc.utils.serialize import parse_yaml_for_update

    checked = 0
    for path in sorted(CORPUS.rglob("dvc.lock")):
        data = parse_yaml_for_update(path.read_text(), str(path))
        names = list(data.get("stages") or {})
        if len(names) < 2:
            continue
        tail = {name: data["stages"].pop(name) for name in names[len(names) // 2 :]}
        head, parts = lockfile._split(lockfile._yaml_text(data), data)
        data["stages"].update(tail)  # added: a first run's later batch
        first, last = names[0], names[-1]
        data["stages"][first] = copy.deepcopy(data["stages"][last])  # changed: a rerun
        data["stages"][last] = data["stages"].pop(last)
        for name in [*tail, first]:
            parts[name] = lockfile._entry_text(name, data["stages"][name])
        spliced = head + "".join(parts[name] for name in reversed(names))
        for name in reversed(names):  # moved: entries kept in `dvc repro` order
            data["stages"][name] = data["stages"].pop(name)
        assert spliced == lockfile._yaml_text(data), path
        checked += 1
    assert checked >= 10


@contextmanager
def _unprivileged() -> Iterator[None]:
    """As root, be `nobody` for a moment (the saved uid brings root back)."""
    if os.geteuid() != 0:
        yield
        return
    os.setresuid(65534, 65534, 0)
    try:
        yield
    finally:
        os.setresuid(0, 0, 0)


def test_a_read_only_dvc_lock_is_refused_as_dvc_does() -> None:
    """DVC opens `dvc.lock` for writing in place, so a mode 444 file stops it
    with "Permission denied"; our temp-file-and-rename must not replace it."""
    folder = Path(tempfile.mkdtemp(prefix="paraffin-ro-"))
    try:
        folder.chmod(0o777)  # the folder allows the rename; the file does not
        path = folder / "dvc.lock"
        path.write_text("old")
        path.chmod(0o444)
        with _unprivileged():
            with pytest.raises(PermissionError):
                open(path, "w").close()  # what DVC does
            with pytest.raises(PermissionError, match="Permission denied"):
                lockfile.write_lockfile(path, "new")
        assert path.read_text() == "old"
        assert [p.name for p in folder.iterdir()] == ["dvc.lock"]
    finally:
        shutil.rmtree(folder)
