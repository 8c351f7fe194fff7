"""`dvc add`-ed data sources under the `paraffin` runner: a run verifies the
`.dvc` stages upstream of what it runs as `dvc repro` does (a changed one, or
one whose object is not in the cache, is saved, committed and its `.dvc` file
rewritten), in `paraffin run` and in a plain `snakemake -j 2` of the exported
Snakefile; an unchanged one is not touched; a dry run changes nothing; the
status cache never claims "up to date" over a changed data source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, init_dvc_repo, run, tool_env, write_files
from snakemake_support import Pair, dvc_ran, dvc_status, locks

# a reads data.txt, b a data source in a subdirectory, c one file of an
# added directory (dirdata/b.txt is in no stage's deps: only dirdata.dvc sees it)
PIPELINE = """stages:
  a:
    cmd: cat data.txt > out_a.txt && echo a >> out_a.txt
    deps: [data.txt]
    outs: [out_a.txt]
  b:
    cmd: cat sub/raw.txt > out_b.txt && echo b >> out_b.txt
    deps: [sub/raw.txt]
    outs: [out_b.txt]
  c:
    cmd: cat dirdata/a.txt > out_c.txt && echo c >> out_c.txt
    deps: [dirdata/a.txt]
    outs: [out_c.txt]
"""
DATA = {"data.txt": "1\n", "sub/raw.txt": "r1\n", "dirdata/a.txt": "a1\n", "dirdata/b.txt": "b1\n"}
SOURCES = ("data.txt.dvc", "sub/raw.txt.dvc", "dirdata.dvc")


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "dvc"), *args], root, env=tool_env())


def pair(tmp_path: Path) -> Pair:
    """Data added and the pipeline reproduced by DVC once, committed; then copied."""
    sm = init_dvc_repo(tmp_path / "sm", {".gitignore": ".snakemake/\n"})
    write_files(sm, DATA)  # not in git: DVC tracks them
    dvc(sm, "add", "-q", "data.txt", "sub/raw.txt", "dirdata")
    (sm / "dvc.yaml").write_text(PIPELINE)
    dvc(sm, "repro", "-q")
    run(["git", "add", "-A"], sm)
    run(["git", "commit", "-qm", "first run"], sm)
    shutil.copytree(sm, tmp_path / "twin", symlinks=True)
    (tmp_path / "runlogs").mkdir()
    made = Pair(sm, tmp_path / "twin", tmp_path / "runlogs")
    made.export()
    return made


def paraffin(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "paraffin"), *args], root, check=False, env=tool_env())


def objects(root: Path) -> set[str]:
    cache = root / ".dvc/cache/files/md5"
    return {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()}


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {s: ((root / s).read_bytes(), (root / s).stat().st_mtime_ns) for s in SOURCES}


def assert_twins(p: Pair) -> None:
    for source in SOURCES:
        assert (p.sm / source).read_text() == (p.twin / source).read_text(), source
    assert objects(p.sm) == objects(p.twin)
    assert locks(p.sm) == locks(p.twin)
    assert dvc_status(p.sm) == {} == dvc_status(p.twin)


def run_it(p: Pair, how: str, name: str) -> str:
    if how == "paraffin run":
        got = paraffin(p.sm, "run", "-j", "2")
    else:  # the exported Snakefile as a user runs it
        got = p.snakemake(name, jobs=2)
    assert got.returncode == 0, got.stdout + got.stderr
    return got.stdout + got.stderr


@pytest.mark.parametrize("how", ["paraffin run", "snakemake"])
def test_changed_data_is_committed_as_dvc_repro_does(tmp_path: Path, how: str) -> None:
    p = pair(tmp_path)
    p.both("echo 2 > data.txt && echo r2 > sub/raw.txt && echo b2 > dirdata/b.txt")
    stale = paraffin(p.sm, "stale")
    twin = p.repro("twin")
    # `paraffin stale` names the pipeline stages `dvc repro` runs (sources are not stages)
    assert sorted(stale.stdout.split()) == sorted(dvc_ran(twin.stdout)) == ["a", "b"]
    out = run_it(p, how, "changed")
    assert_twins(p)
    assert "Verifying data sources in stage: 'data.txt.dvc'" in out
    assert "paraffin: saved 'dirdata.dvc'" in out

    # nothing changed since: no source written, not even its mtime
    before = snapshot(p.sm)
    out = run_it(p, how, "again")
    assert "Verifying" not in out
    assert snapshot(p.sm) == before


def test_data_not_in_cache_is_committed(tmp_path: Path) -> None:
    """`dvc status`: "not in cache"; `dvc repro` commits it; no stage reruns."""
    p = pair(tmp_path)
    # the status cache had its say first: it must not answer "up to date"
    assert paraffin(p.sm, "stale").stdout == paraffin(p.sm, "stale").stdout == ""
    md5 = (p.sm / "data.txt.dvc").read_text().split("md5: ")[1].split()[0]
    p.both(f"rm -f .dvc/cache/files/md5/{md5[:2]}/{md5[2:]}")
    out = run_it(p, "paraffin run", "missing")
    p.repro("twin")
    assert_twins(p)
    assert "Verifying data sources in stage: 'data.txt.dvc'" in out
    assert "DVC reports 0 of 3 stages to run" in out


def test_status_cache_does_not_hide_a_changed_source(tmp_path: Path) -> None:
    """dirdata/b.txt is in no stage's fingerprint: only DVC sees dirdata.dvc changed."""
    p = pair(tmp_path)
    run_it(p, "paraffin run", "warm")  # records what the status cache may answer from
    paraffin(p.sm, "stale")
    p.both("echo b3 > dirdata/b.txt")
    assert paraffin(p.sm, "stale").stdout == ""  # as `dvc repro`: no pipeline stage runs
    out = run_it(p, "paraffin run", "dir")
    p.repro("twin")
    assert_twins(p)
    assert "paraffin: saved 'dirdata.dvc'" in out


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    p = pair(tmp_path)
    p.both("echo 2 > data.txt")
    before, cached = snapshot(p.sm), objects(p.sm)
    got = paraffin(p.sm, "run", "-n")
    assert got.returncode == 0, got.stderr
    out = got.stdout + got.stderr
    assert "dry run: would verify data sources in stage: 'data.txt.dvc'" in out
    assert "sub/raw.txt.dvc" not in out  # unchanged: not named
    assert snapshot(p.sm) == before
    assert objects(p.sm) == cached
    assert dvc_status(p.sm) == dvc_status(p.twin) != {}


def test_missing_data_fails_before_any_stage_as_dvc_repro_does(tmp_path: Path) -> None:
    p = pair(tmp_path)
    p.both("rm data.txt")
    lock = (p.sm / "dvc.lock").read_bytes()
    got = paraffin(p.sm, "run", "-j", "2")
    twin = p.repro("twin", check=False)
    assert twin.returncode != 0
    assert "failed to reproduce 'data.txt.dvc': missing data 'source': data.txt" in twin.stderr
    assert got.returncode == 2, got.stdout + got.stderr
    assert "failed to reproduce 'data.txt.dvc': missing data 'source': data.txt" in got.stderr
    assert "Running stage" not in got.stdout + got.stderr
    assert (p.sm / "dvc.lock").read_bytes() == lock
