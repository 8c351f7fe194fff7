"""A generated workflow run after dvc.yaml changed refuses before any job,
naming what changed and the export command (issue 16, point 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import init_dvc_repo, paraffin
from snakemake_support import SNAKEFILE, snakemake

pytestmark = pytest.mark.engine


def stage(name: str, deps: tuple[str, ...] = ()) -> str:
    cat = " ".join(deps)
    lines = [f"  {name}:", f'    cmd: echo {name} >> "$RUNLOG"; echo {name} {cat} > {name}.txt']
    if deps:
        lines.append(f"    deps: [{', '.join(deps)}]")
    lines.append(f"    outs: [{name}.txt]")
    return "\n".join(lines)


BASE = {"a": (), "b": ("a.txt",), "c": ()}
CHANGES = {
    "added": ({**BASE, "d": ("b.txt",)}, ["stage 'd' added"]),
    "removed": ({"a": (), "b": ("a.txt",)}, ["stage 'c' removed"]),
    "renamed": ({"a": (), "b": ("a.txt",), "c2": ()}, ["stage 'c' renamed to 'c2'"]),
    "edge": ({"a": (), "b": ("a.txt",), "c": ("b.txt",)}, ["edge 'b' -> 'c' added"]),
}


def dvc_yaml(stages: dict[str, tuple[str, ...]]) -> str:
    return "stages:\n" + "\n".join(stage(n, d) for n, d in stages.items()) + "\n"


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_stale_snakefile_refuses_before_any_job(tmp_path: Path, change: str) -> None:
    root = init_dvc_repo(tmp_path / "p", {"dvc.yaml": dvc_yaml(BASE)})
    assert paraffin("export", "snakemake", "-C", root, "-o", root / SNAKEFILE).code == 0
    stages, expected = CHANGES[change]
    (root / "dvc.yaml").write_text(dvc_yaml(stages))
    runlog = tmp_path / "runlog"
    got = snakemake(root, runlog=runlog, jobs=4)
    text = got.stdout + got.stderr
    assert got.returncode != 0, text
    assert runlog.read_text() == "", "a stage ran"
    assert not list(root.glob(".paraffin/logs/*.log")), "a job started"
    for words in expected:
        assert words in text, text
    assert "paraffin export snakemake -o .paraffin/Snakefile" in text, text


PLAN_ERRORS = {
    # the Plan's own ProjectError (issue 16's drift check)
    "stale": (dvc_yaml(CHANGES["renamed"][0]), "paraffin: this Snakefile is stale"),
    # DVC refusing the project, as DVC words it
    "broken yaml": (dvc_yaml(BASE) + "  bad: [\n", "paraffin: unable to read: 'dvc.yaml'"),
}


@pytest.mark.parametrize("case", sorted(PLAN_ERRORS))
def test_plan_errors_are_one_message_under_snakemake(tmp_path: Path, case: str) -> None:
    """Issue 15: an error the Plan raises while Snakemake builds the DAG is one
    message with its hint, exit 2, not an InputFunctionException with a
    traceback block."""
    root = init_dvc_repo(tmp_path / "p", {"dvc.yaml": dvc_yaml(BASE)})
    assert paraffin("export", "snakemake", "-C", root, "-o", root / SNAKEFILE).code == 0
    text, start = PLAN_ERRORS[case]
    (root / "dvc.yaml").write_text(text)
    got = snakemake(root, runlog=tmp_path / "runlog", jobs=2)
    assert got.returncode == 2, got.stdout + got.stderr
    assert "Traceback" not in got.stdout + got.stderr, got.stderr
    assert "InputFunctionException" not in got.stdout + got.stderr, got.stderr
    ours = [line for line in got.stderr.splitlines() if line.startswith("paraffin:")]
    assert len(ours) == 1 and ours[0].startswith(start), got.stderr
    # the message (and its hint) is the last thing Snakemake's process says
    assert got.stderr.rstrip().splitlines()[-1].startswith(("paraffin:", "  hint:")), got.stderr
