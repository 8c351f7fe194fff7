"""`scmfast`: the coordinator's answers to DVC's two git questions equal
scmrepo's own, on a real git repository, as the index and `.gitignore`s change."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scmrepo.git import Git

from paraffin_export.runtime import scmfast


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _repo(root: Path) -> None:
    root.mkdir()
    _git(root, "init", "-q")
    for rel in ("a", "d/x", "d-x/y", "data.csv", "sub/keep"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    _git(root, "add", "a", "d/x", "d-x/y")


def test_is_tracked_answers_as_dulwich_does(tmp_path: Path) -> None:
    root = tmp_path / "r"
    _repo(root)
    plain, fast = Git(str(root)), Git(str(root))
    scmfast.install(fast)
    paths = ["a", "d", "d/x", "d-x", "d-x/y", "data.csv", "sub", "sub/keep", "missing", "d/x/z"]
    for step in ("start", "added", "removed"):
        if step == "added":
            _git(root, "add", "data.csv", "sub/keep")
        if step == "removed":
            _git(root, "rm", "-q", "--cached", "d/x", "a")
        for rel in paths:
            path = str(root / rel)
            assert fast.is_tracked(path) == plain.is_tracked(path), (step, rel)
    assert fast.is_tracked(str(root / "sub"))  # a folder holding a tracked file


def test_ignore_skips_only_what_dvc_would_not_write(tmp_path: Path) -> None:
    """Same return value and same `.gitignore` bytes as DVC's `Git.ignore`.
    (Each output once, as a run saves it: asked twice in one process, DVC's
    own `ignore` appends the line again, its cached ignore rules being stale.)"""
    results = {}
    for name in ("plain", "fast"):
        root = tmp_path / name
        _repo(root)
        (root / "sub" / ".gitignore").write_text("/present\n")
        (root / "neg").mkdir()
        (root / "neg" / ".gitignore").write_text("/o\n!/o\n")
        (root / "crlf").mkdir()
        (root / "crlf" / ".gitignore").write_text("/o\r\n")
        (root / ".gitignore").write_text("/ignored\n")  # a folder ignored above its outputs
        (root / "deep" / "er").mkdir(parents=True)
        (root / ".git" / "info").mkdir(exist_ok=True)
        (root / ".git" / "info" / "exclude").write_text("*.tmp\n")
        scm = Git(str(root))
        if name == "fast":
            scmfast.install(scm)
        answers = [
            scm.ignore(str(root / rel))
            for rel in (
                *("sub/present", "sub/new", "neg/o", "crlf/o", "top"),
                *("ignored/x", "sub/a.tmp", "deep/er/o", "sub/n2", "sub/n3", "top2"),
            )
        ]
        answers = [a and Path(a).relative_to(root).as_posix() for a in answers]
        texts = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob(".gitignore")}
        results[name] = (answers, texts)
    assert results["fast"] == results["plain"]
    assert results["fast"][0][0] is None  # the line was there: nothing to add
