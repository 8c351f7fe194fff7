"""The slurm backend without a cluster: `paraffin stale` on real DVC repos, the
label -> sbatch mapping, and the generated script under shellcheck."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import BIN, GOLDEN, paraffin, run

from paraffin_export.backends.slurm import SlurmBackend, root_from, sbatch_options
from paraffin_export.errors import BackendError
from paraffin_export.ir import Labels, Pipeline, Stage
from paraffin_export.stale import stale_addresses


def stage(address: str, **kw: object) -> Stage:
    return Stage(address=address, name=address, dvcfile="dvc.yaml", wdir=".", cmd=("x",), **kw)  # type: ignore[arg-type]


def test_stale_propagates_downstream_but_not_past_frozen() -> None:
    pipeline = Pipeline(
        stages=(
            stage("a", changed=True),
            stage("b", changed=False),
            stage("f", changed=True, frozen=True),
            stage("g", changed=False),
            stage("h", changed=True),
            stage("ac", changed=False, always_changed=True),
            stage("unknown", changed=None),
            stage("ok", changed=False),
        ),
        edges=(("a", "b"), ("a", "f"), ("f", "g"), ("g", "h")),
    )
    # f is frozen but its own status is not clean: DVC verifies and records it
    assert stale_addresses(pipeline) == ("a", "b", "f", "h", "ac", "unknown")
    clean_frozen = replace(
        pipeline,
        stages=tuple(replace(s, changed=False) if s.address == "f" else s for s in pipeline.stages),
    )
    assert stale_addresses(clean_frozen) == ("a", "b", "h", "ac", "unknown")


PROJECT = {
    "data.txt": "1\n",
    "dvc.yaml": """\
stages:
  one:
    cmd: cp data.txt one.txt
    deps: [data.txt]
    outs: [one.txt]
  two:
    cmd: cp one.txt two.txt
    deps: [one.txt]
    outs: [two.txt]
  side:
    cmd: echo side > side.txt
    outs: [side.txt]
  always:
    cmd: echo always > always.txt
    outs: [always.txt]
    always_changed: true
""",
}


def stale_now(root: Path) -> list[str]:
    result = paraffin("stale", "-0", "-C", root)
    assert result.code == 0, result.stderr
    return sorted(result.stdout.split("\0")[:-1])


def test_paraffin_stale_follows_dvc(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo(PROJECT)
    assert stale_now(root) == ["always", "one", "side", "two"]
    run([str(BIN / "dvc"), "repro", "-q"], root)
    assert stale_now(root) == ["always"]
    (root / "data.txt").write_text("2\n")
    assert stale_now(root) == ["always", "one", "two"]
    run([str(BIN / "dvc"), "freeze", "one"], root)
    assert stale_now(root) == ["always"]
    # a frozen stage whose output changed: `dvc repro` records the new hash
    run([str(BIN / "dvc"), "freeze", "two"], root)
    (root / "two.txt").write_text("edited by hand\n")
    assert stale_now(root) == ["always", "two"]


def test_paraffin_stale_outside_a_project_is_an_error(tmp_path: Path) -> None:
    result = paraffin("stale", "-C", tmp_path)
    assert result.code == 2
    assert "not inside a DVC project" in result.stderr


def labelled(**labels: object) -> Stage:
    return stage("s", labels=Labels(**labels))  # type: ignore[arg-type]


def test_labels_map_to_sbatch_options() -> None:
    s = labelled(
        queue="gpu",
        threads=4,
        resources=(
            ("gpu", 1),
            ("mem_mb", 8000),
            ("runtime", "2h"),
            ("slurm_extra", "--qos=short --comment='a b'"),
            ("tokens", 3),
        ),
    )
    assert sbatch_options(s) == (
        "--partition=gpu",
        "--cpus-per-task=4",
        "--mem=8000M",
        "--gpus=1",
        "--time=120",
        "--qos=short",
        "--comment=a b",
    )
    explicit = labelled(queue="q", resources=(("slurm_partition", "p"), ("runtime", 30)))
    assert sbatch_options(explicit) == ("--partition=p", "--time=30")


@pytest.mark.parametrize(
    "resources, message",
    [
        ((("mem_mb", "lots"),), "mem_mb must be an integer"),
        ((("slurm_extra", "--comment='open"),), "slurm_extra"),
        ((("runtime", "two hours"),), "not a duration"),
    ],
)
def test_bad_labels_name_the_stage(resources, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BackendError, match=message) as info:
        sbatch_options(labelled(resources=resources))
    assert info.value.stage == "s"


def test_script_finds_the_root_relative_to_itself() -> None:
    assert root_from("slurm-submit.sh", "/x/proj") == "."
    assert root_from("ci/hpc/submit.sh", "/x/proj") == "../.."
    assert root_from("../elsewhere/submit.sh", "/x/proj") == "../proj"
    assert root_from(None, "/x/proj") is None


def test_script_is_deterministic_and_shellcheck_clean(tmp_path: Path) -> None:
    hostile = ("it's", "$(touch pwned)", "`id`", "a b;c", "new\nline", "-dash", "{x}")
    pipeline = Pipeline(
        stages=tuple(stage(f"w@{h}", labels=Labels(queue=h)) for h in hostile),
        project="it's",
    )
    text = SlurmBackend().render(pipeline, _options()).main
    assert text == SlurmBackend().render(pipeline, _options()).main
    assert "/x/" not in text  # no absolute path
    script = tmp_path / "slurm-submit.sh"
    script.write_text(text)
    subprocess.run(["bash", "-n", script], check=True)
    if not shutil.which("shellcheck"):
        if os.environ.get("CI"):
            pytest.fail("shellcheck missing: tests/setup.sh installs it")
        pytest.skip("shellcheck not installed")
    check = subprocess.run(["shellcheck", script], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert not (tmp_path / "pwned").exists()


def _options():  # type: ignore[no-untyped-def]
    from pathlib import PurePosixPath

    from paraffin_export.backends import ExportOptions

    return ExportOptions(output=PurePosixPath("slurm-submit.sh"))


@pytest.mark.parametrize(
    "script", sorted(GOLDEN.glob("*/expected/slurm/slurm-submit.sh")), ids=lambda p: p.parts[-4]
)
def test_golden_scripts_are_shellcheck_clean(script: Path) -> None:
    if not shutil.which("shellcheck"):
        if os.environ.get("CI"):
            pytest.fail("shellcheck missing: tests/setup.sh installs it")
        pytest.skip("shellcheck not installed")
    check = subprocess.run(["shellcheck", script], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_paraffin_stale_waits_while_jobs_hold_the_repo_lock(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    import threading

    from dvc.repo import Repo

    root = dvc_repo(PROJECT)
    repo = Repo(os.fspath(root))
    repo.lock.lock()  # a running job's `dvc repro` bookkeeping, held longer than DVC waits
    timer = threading.Timer(4.0, repo.lock.unlock)
    timer.start()
    try:
        assert stale_now(root) == ["always", "one", "side", "two"]
    finally:
        timer.join()
        repo.close()
