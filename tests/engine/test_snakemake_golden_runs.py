"""Golden projects run end to end: `snakemake -j 8` on the exported Snakefile
against a twin on which plain `dvc repro` runs.

The cases cover foreach (keyed), matrix, sub-dvc.yaml files
with `wdir`, directory outputs, a DVC root below the git root, frozen /
always_changed / persist flags, and hostile stage names (quotes, `$( )`,
backticks, braces, spaces, unicode) and commands. Which stages ran is DVC's
own testimony ("Running stage 'X':"), from `dvc repro`'s output on the twin
and from the per-stage logs on the Snakemake side.

A Snakefile exported without targets holds every stage of every dvc.yaml, so
its oracle is `dvc repro --all-pipelines` (plain `dvc repro` stops at the
pipelines of ./dvc.yaml and skips a sub-dvc.yaml stage downstream of them).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, paraffin, run, tool_env
from golden_cases import case_options, materialize
from snakemake_support import (
    SNAKEFILE,
    clear_stage_logs,
    dvc_ran,
    dvc_status,
    locks,
    snakemake,
    stage_logs,
)

# foreach members of every form are in `hostile` (keyed) and the incremental test (list)
CASES = ["dvc_subdir", "flags", "hostile", "matrix", "subdirs"]
# A frozen stage that never ran has no outputs, and `dvc repro` fails on it as
# much as we do; give it its outputs by hand, as its user would have (and the
# persist output `build` expects but never writes).
BEFORE = {"flags": "echo source > source.txt && touch checkpoint.bin"}
# Outputs that differ between any two runs (`date > now.txt`): their hashes
# are not compared, everything else in dvc.lock is.
VOLATILE = {"flags": {"now.txt", "build.txt"}}


def _sides(case: str, tmp_path: Path) -> tuple[Path, Path]:
    sm = materialize(case, tmp_path / "sm")
    subdir = str(case_options(case).get("subdir", "."))
    git_root = sm if subdir == "." else sm.parent
    twin_git = tmp_path / "twin" / case
    shutil.copytree(git_root, twin_git, symlinks=True)
    twin = twin_git if subdir == "." else twin_git / subdir
    for root in (sm, twin):
        if case in BEFORE:
            run(["bash", "-c", BEFORE[case]], root)
    return sm, twin


def _locks(root: Path, case: str) -> dict[str, Any]:
    found = locks(root)
    for lock in found.values():
        for entry in lock["stages"].values():
            for item in entry.get("deps", []) + entry.get("outs", []):
                if item["path"] in VOLATILE.get(case, ()):
                    item.pop("md5", None)
                    item.pop("size", None)
    return found


def _run_both(sm: Path, twin: Path, tmp_path: Path, name: str) -> tuple[Counter[str], Counter[str]]:
    clear_stage_logs(sm)
    repro = subprocess.Popen(
        [str(BIN / "dvc"), "repro", "--all-pipelines"],
        cwd=twin,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # started elsewhere on purpose: the Snakefile must find the DVC root itself
    got = snakemake(sm, runlog=tmp_path / f"{name}.log", cwd=tmp_path)
    out, _ = repro.communicate(timeout=600)
    assert got.returncode == 0, got.stderr
    assert repro.returncode == 0, out
    ran: Counter[str] = Counter()
    for text in stage_logs(sm).values():
        ran.update(dvc_ran(text))
    return ran, dvc_ran(out)


@pytest.mark.parametrize("case", CASES)
def test_golden_case_runs_like_dvc_repro(case: str, tmp_path: Path) -> None:
    sm, twin = _sides(case, tmp_path)
    result = paraffin("export", "snakemake", "-C", sm, "-o", sm / SNAKEFILE)
    assert result.code == 0, result.stderr

    first, want = _run_both(sm, twin, tmp_path, "first")
    assert first == want
    assert max(first.values()) == 1, "a stage ran twice"
    assert _locks(sm, case) == _locks(twin, case)
    assert dvc_status(sm) == dvc_status(twin)

    again, want_again = _run_both(sm, twin, tmp_path, "again")
    assert again == want_again
    assert _locks(sm, case) == _locks(twin, case)
    # nothing the hostile names could have run through a shell
    assert not list(tmp_path.rglob("pwned"))
