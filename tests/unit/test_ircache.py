"""The IR cache (issue 18): an unchanged project is exported without DVC, and
every change that could alter what DVC loads is seen (compared with a load
through DVC after each change)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from paraffin_export import ircache
from paraffin_export.frontend import load_pipeline

DVC_YAML = """\
vars: [extra.yaml]
stages:
  prep:
    cmd: echo ${size} > prep.txt
    outs: [prep.txt]
  train:
    foreach: ${models}
    do:
      cmd: cat prep.txt > m_${item}.txt
      deps: [prep.txt]
      outs: ["m_${item}.txt"]
      params: [lr]
"""
FILES = {
    "dvc.yaml": DVC_YAML,
    "params.yaml": "size: 3\nlr: 0.1\n",
    "extra.yaml": "models: [a, b]\n",
    "sub/dvc.yaml": "stages:\n  s:\n    cmd: echo s > s.txt\n    outs: [s.txt]\n",
    "paraffin.yaml": "stages:\n  'train@*': {threads: 2}\n",
}
LOCK = "schema: '2.0'\nstages:\n  prep:\n    cmd: echo 3 > prep.txt\n"


def fresh(root: Path) -> object:
    shutil.rmtree(root / ircache.CACHE_DIR, ignore_errors=True)
    return load_pipeline(root)


def same_stat_edit(path: Path, old: str, new: str) -> None:
    """Change content, keeping size and mtime (a cache keyed on stat would miss it)."""
    st = path.stat()
    text = path.read_text()
    assert len(old) == len(new) and old in text
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


MUTATIONS: dict[str, Callable[[Path], None]] = {
    "dvc.yaml, same size and mtime": lambda r: same_stat_edit(r / "dvc.yaml", "echo", "ECHO"),
    "params in a cmd": lambda r: same_stat_edit(r / "params.yaml", "size: 3", "size: 4"),
    "vars file": lambda r: write(r, "extra.yaml", "models: [a, b, c]\n"),
    "new dvc.yaml in a new dir": lambda r: write(r, "deep/er/dvc.yaml", FILES["sub/dvc.yaml"]),
    "dvc.yaml removed": lambda r: (r / "sub/dvc.yaml").unlink(),
    "dvcignore": lambda r: write(r, ".dvcignore", "sub/\n"),
    "paraffin.yaml": lambda r: write(r, "paraffin.yaml", "stages:\n  prep: {threads: 3}\n"),
    "dvc.lock appears": lambda r: write(r, "dvc.lock", LOCK),
    "default params.yaml in a subdir": lambda r: write(r, "sub/params.yaml", "x: 1\n"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_every_change_is_seen(dvc_repo: Callable[..., Path], mutation: str) -> None:
    root = dvc_repo(FILES)
    first = load_pipeline(root)
    assert load_pipeline(root) == first == fresh(root)  # stored, then read back equal
    assert ircache.lookup(root, None) == first  # the next load would come from the cache
    MUTATIONS[mutation](root)
    after = load_pipeline(root)
    assert after == fresh(root)
    if mutation != "default params.yaml in a subdir":
        assert after != first


def test_unchanged_project_is_loaded_without_dvc(dvc_repo: Callable[..., Path]) -> None:
    root = dvc_repo(FILES)
    code = (
        "import sys, json; from paraffin_export.frontend import load_pipeline;"
        "p = load_pipeline(sys.argv[1]); print(json.dumps(['dvc' in sys.modules, repr(p)]))"
    )

    def load() -> list[object]:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
        )
        return json.loads(proc.stdout)

    first, second = load(), load()
    assert first[0] is True and second[0] is False
    assert first[1] == second[1]
    # writing a file the load never reads (an exported Snakefile) keeps the cache
    (root / "Snakefile").write_text("x")
    assert load() == second


def test_a_load_that_warns_is_not_cached(dvc_repo: Callable[..., Path]) -> None:
    files = dict(FILES)
    files["paraffin.yaml"] = "stages:\n  nothing-matches: {threads: 2}\n"
    root = dvc_repo(files)
    load_pipeline(root)
    assert not (root / ircache.CACHE_DIR / "ir.json").exists()
