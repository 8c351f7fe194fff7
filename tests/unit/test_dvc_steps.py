"""`dvc_steps`: `dvc repro`'s steps around a command, with each dep hashed once
per step. DVC's run-cache code hashes every dep of a stage three times a step
(`_can_hash` twice, then `save_deps`); a join of many deps paid it twice per
stage on the run's critical path. The hashes, and so `dvc.lock`, stay DVC's."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from conftest import init_dvc_repo

from paraffin_export.runtime import dvc_steps

N = 5
DVC_YAML = "\n".join(
    ["stages:", "  join:", "    cmd: cat in/* > joined", "    outs: [joined]", "    deps:"]
    + [f"      - in/{i}.txt" for i in range(N)]
    + [""]
)


def _stage(root: Path):  # noqa: ANN202 - a DVC stage
    from dvc.repo import Repo

    repo = Repo(str(root))
    (stage,) = repo.index.stages
    return repo, stage


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> collections.Counter:
    """Builds that reach DVC, per dep path (the memo sits above them)."""
    from dvc.output import Output

    counts: collections.Counter = collections.Counter()
    inner = Output._build

    def counted(self, *args, **kwargs):  # noqa: ANN001,ANN002,ANN003,ANN202
        if self.IS_DEPENDENCY:
            counts[self.def_path] += 1
        return inner(self, *args, **kwargs)

    monkeypatch.setattr(Output, "_build", counted)
    return counts


def test_each_dep_is_hashed_once_per_step_and_dvc_lock_is_dvcs(
    tmp_path: Path, builds: collections.Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"dvc.yaml": DVC_YAML, **{f"in/{i}.txt": f"{i}\n" for i in range(N)}}
    root = init_dvc_repo(tmp_path / "p", files)
    monkeypatch.chdir(root)
    repo, stage = _stage(root)
    with repo.lock:
        assert dvc_steps.before_command(stage, None).action == "run"
        assert builds == dict.fromkeys(stage_deps(stage), 1)
        assert "_build" not in vars(stage.deps[0]), "the memo outlived its step"
        (root / "joined").write_text("".join(f"{i}\n" for i in range(N)))
        builds.clear()
        dvc_steps.after_command(stage)
        assert builds == dict.fromkeys(stage_deps(stage), 1)
        from dvc.stage.serialize import to_single_stage_lockfile

        ours = to_single_stage_lockfile(stage)
    # the same stage saved by DVC alone, no memo: the same lock entry
    repo2, again = _stage(root)
    with repo2.lock:
        again.save(allow_missing=False, run_cache=False)
        assert to_single_stage_lockfile(again) == ours
    repo.close()
    repo2.close()


def test_without_the_memo_dvc_hashes_each_dep_three_times(
    tmp_path: Path, builds: collections.Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the memo saves, measured on DVC itself: if DVC stops hashing deps
    again, this fails and the memo can go."""
    files = {"dvc.yaml": DVC_YAML, **{f"in/{i}.txt": f"{i}\n" for i in range(N)}}
    root = init_dvc_repo(tmp_path / "p", files)
    monkeypatch.chdir(root)
    (root / "joined").write_text("x\n")
    repo, stage = _stage(root)
    with repo.lock:
        stage.save(allow_missing=False, run_cache=True)
    assert builds == dict.fromkeys(stage_deps(stage), 3)
    repo.close()


def stage_deps(stage) -> list[str]:  # noqa: ANN001
    return [dep.def_path for dep in stage.deps]
