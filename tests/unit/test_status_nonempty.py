"""`dvc_adapter.changed` under the caller's read lock stops at the first
change, and answers exactly `bool(Stage.status())` in every state a stage can
be in (a real DVC repository, reproduced by DVC, then changed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from paraffin_export import dvc_adapter

PIPELINE = """\
stages:
  gen:
    cmd: echo 1 > a
    outs: [a]
  use:
    cmd: cat a > b
    deps: [a]
    outs: [b]
  froz:
    cmd: cat a > c
    deps: [a]
    outs: [c]
    frozen: false
  always:
    cmd: echo x > d
    outs: [d]
    always_changed: true
  param:
    cmd: echo p > e
    params: [lr]
    outs: [e]
"""


def _dvc(root: Path, *args: str) -> None:
    dvc = Path(sys.executable).with_name("dvc")
    subprocess.run([str(dvc), *args], cwd=root, check=True, capture_output=True)


def _answers(root: Path) -> dict[str, tuple[bool, bool]]:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        stages = dvc_adapter.pipeline_stages(repo)
        full = {a: bool(type(st).status.__wrapped__(st)) for a, st in stages.items()}
        stages = dvc_adapter.pipeline_stages(repo)  # fresh: no hash cached by the first ask
        return {a: (full[a], bool(dvc_adapter._status_nonempty(st))) for a, st in stages.items()}


def test_the_short_answer_is_dvcs_status(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    _dvc(tmp_path, "init", "-q")
    (tmp_path / "dvc.yaml").write_text(PIPELINE)
    (tmp_path / "params.yaml").write_text("lr: 1\n")
    _dvc(tmp_path, "repro", "-q")
    (tmp_path / "dvc.yaml").write_text(PIPELINE.replace("frozen: false", "frozen: true"))
    changes = [
        lambda: None,
        lambda: (tmp_path / "a").write_text("2\n"),  # a dep and an out changed
        lambda: (tmp_path / "b").unlink(),  # an out deleted
        lambda: (tmp_path / "params.yaml").write_text("lr: 2\n"),
        lambda: (tmp_path / "dvc.yaml").write_text(PIPELINE.replace("echo 1", "echo 3")),
        lambda: (tmp_path / "d").unlink(),
    ]
    seen = set()
    for change in changes:
        change()
        for address, (full, short) in _answers(tmp_path).items():
            assert short == full, (address, full)
            seen.add((address, full))
    assert {full for _, full in seen} == {True, False}
