"""The `paraffin` runner's pure helpers, without a workflow engine: the job's
shell and spawn, the journal fingerprint, atomic JSON, the job's imports, and
`dvc.lock` appends laid out as DVC's own dump."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import CORPUS

from paraffin_export.runtime import job
from paraffin_export.runtime import lockfile as lockwrite
from paraffin_export.runtime import messages as rf


def test_shell_command_is_dvcs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELL", "/bin/bash")
    assert job.shell_command("echo x") == ["/bin/bash", "--noprofile", "--norc", "-c", "echo x"]
    monkeypatch.setenv("SHELL", "/usr/bin/zsh")
    assert job.shell_command("a") == ["/usr/bin/zsh", "--no-rcs", "-c", "a"]
    monkeypatch.delenv("SHELL")
    assert job.shell_command("a") == ["/bin/sh", "-c", "a"]


def test_fingerprint_sees_writes(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("1")
    paths = [str(tmp_path / "d"), str(tmp_path / "missing")]
    before = rf.fingerprint(paths)
    assert rf.fingerprint(paths) == before
    time.sleep(0.01)
    (tmp_path / "d" / "f").write_text("22")
    assert rf.fingerprint(paths) != before


def test_write_atomic_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "dvc.lock"
    path.write_text("old")
    path.chmod(0o640)
    lockwrite.write_atomic(path, "new")
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["dvc.lock"]


def test_spawn_is_subprocess_call(tmp_path: Path) -> None:
    """The job's posix_spawn stands in for subprocess.call: cwd, env, exit
    codes and signals, and the job's own cwd is left as it was."""
    here = os.getcwd()
    env = {"PATH": os.environ["PATH"], "X": "y"}
    script = 'pwd > where && echo "$X" > env && exit 3'
    assert job.spawn(["sh", "-c", script], str(tmp_path), env) == 3
    assert os.getcwd() == here
    assert (tmp_path / "where").read_text().strip() == str(tmp_path.resolve())
    assert (tmp_path / "env").read_text() == "y\n"
    assert job.spawn(["sh", "-c", "kill -9 $$"], str(tmp_path), env) == -signal.SIGKILL
    with pytest.raises(FileNotFoundError):
        job.spawn(["/no/such/shell", "-c", "true"], str(tmp_path), env)
    assert os.getcwd() == here


def test_write_json_leaves_no_temp_file(tmp_path: Path) -> None:
    rf.write_json(tmp_path / "a.json", {"b": 1}, durable=True)
    rf.write_json(str(tmp_path / "a.json"), {"b": 2})
    assert rf.read_json(tmp_path / "a.json") == {"b": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    with pytest.raises(TypeError):
        rf.write_json(tmp_path / "c.json", {"not json": object()})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_jobs_import_no_heavy_modules() -> None:
    """A job's start-up is on every stage's path (see job.py)."""
    code = "import sys, paraffin_export.runtime.job; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    heavy = {"subprocess", "pathlib", "typing", "tempfile", "shutil", "socket", "dvc"}
    assert not heavy & loaded, heavy & loaded


def test_appending_new_stages_lays_them_out_as_a_whole_dump() -> None:
    """lockwrite's first-run shortcut: bytes equal to dumping the whole file."""
    from dvc.utils.serialize import parse_yaml_for_update

    checked = 0
    for path in sorted(CORPUS.rglob("dvc.lock")):
        text = path.read_text()
        whole, head = (parse_yaml_for_update(text, str(path)) for _ in range(2))
        names = list(whole.get("stages") or {})
        if len(names) < 2:
            continue
        for name in names[len(names) // 2 :]:
            del head["stages"][name]
        tail = {name: whole["stages"][name] for name in names[len(names) // 2 :]}
        appended = lockwrite.append_stages(lockwrite._yaml_text(head), tail)
        assert appended == lockwrite._yaml_text(whole), path
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
                lockwrite.write_atomic(path, "new")
        assert path.read_text() == "old"
        assert [p.name for p in folder.iterdir()] == ["dvc.lock"]
    finally:
        shutil.rmtree(folder)
