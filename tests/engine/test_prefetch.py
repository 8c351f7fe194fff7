"""Data-heavy stages (issue 18): the coordinator hashes outputs in parallel
threads, each file read once, staging the cache copy from the same read. DVC
must not see a difference: dvc.lock, the cache (objects, modes), the run
cache and the workspace links equal a `dvc repro` twin's, on every cache link
type, with directory outputs of many files; a kill while a staged copy is
written leaves nothing that passes for "up to date"."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BIN, run, tool_env
from snakemake_support import SNAKEFILE, Pair, dvc_status, executed, locks

from paraffin_export.paths import HEARTBEAT, RUN_DIR
from paraffin_export.runtime import filehash
from paraffin_export.runtime.verdict_script import read_heartbeat

# big files (two with the same bytes, one mode 600), an executable, a dir of
# many files (duplicates, an empty one, nested dirs, a .dvcignored one), an
# uncached output, and a stage reading them all
DATA = """\
stages:
  big:
    foreach: [0, 1, 2]
    do:
      cmd: echo big${item} >> "$RUNLOG" && yes ${item} | head -c 3000000 > big_${item}.bin
      outs: ["big_${item}.bin"]
  twin:
    cmd: echo twin >> "$RUNLOG" && yes 0 | head -c 3000000 > same.bin && chmod 600 same.bin
    outs: [same.bin]
  tool:
    cmd: echo tool >> "$RUNLOG" && echo '#!/bin/sh' > tool.sh && chmod 755 tool.sh
    outs: [tool.sh]
  many:
    cmd: >-
      echo many >> "$RUNLOG" && mkdir -p many/sub/deeper &&
      for i in $(seq 0 149); do echo $((i % 100)) > many/f$i.txt;
      echo x$i > many/sub/deeper/g$i.txt; done && : > many/empty && echo skip > many/ignored.tmp
    outs: [many]
  plain:
    cmd: echo plain >> "$RUNLOG" && echo plain > plain.txt
    outs: [{plain.txt: {cache: false}}]
  join:
    cmd: echo join >> "$RUNLOG" && cat big_*.bin same.bin many/f1.txt plain.txt | md5sum > join.txt
    deps: [big_0.bin, big_1.bin, big_2.bin, same.bin, many, plain.txt]
    outs: [join.txt]
"""
FILES = {"dvc.yaml": DATA, ".gitignore": ".snakemake/\n", ".dvcignore": "*.tmp\n"}


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (content md5, mode) of every file under ``root``."""
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): (
            hashlib.md5(p.read_bytes()).hexdigest(),  # noqa: S324 - comparing bytes
            p.stat().st_mode & 0o777,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def link_kinds(root: Path) -> dict[str, str]:
    """How each workspace output is laid out: a symlink, a hardlink or a copy,
    and its mode."""
    found = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.split("/")[0] in (".dvc", ".git", ".snakemake", ".paraffin") or p.is_dir():
            continue
        kind = "symlink" if p.is_symlink() else "hardlink" if p.stat().st_nlink > 1 else "copy"
        found[rel] = f"{kind} {oct(p.lstat().st_mode)}"
    return found


def assert_same_as_twin(pair: Pair) -> None:
    # on both: DVC's status re-protects an executable hardlinked object (0o544 -> 0o444)
    assert dvc_status(pair.sm) == dvc_status(pair.twin) == {}
    assert locks(pair.sm) == locks(pair.twin)
    cache = Path(".dvc/cache")
    assert tree(pair.sm / cache / "files") == tree(pair.twin / cache / "files")
    assert tree(pair.sm / cache / "runs") == tree(pair.twin / cache / "runs")
    assert link_kinds(pair.sm) == link_kinds(pair.twin)
    leftovers = [p for p in (pair.sm / cache).iterdir() if p.name.startswith(".paraffin")]
    assert leftovers == []


def configure(pair: Pair, cache_type: str | None) -> None:
    if cache_type is None:
        return
    for root in (pair.sm, pair.twin):
        run([str(BIN / "dvc"), "config", "cache.type", cache_type], root)


def hashed(pair: Pair) -> dict[str, int]:
    beat = read_heartbeat(pair.sm / RUN_DIR / HEARTBEAT)
    counts: dict[str, int] = json.loads(beat.get("hashed") or "{}")
    return counts


# None: DVC's default (reflink,copy: a copy where the filesystem has no reflink)
@pytest.mark.parametrize("cache_type", [None, "copy", "hardlink", "symlink"])
def test_parallel_hashing_equals_dvc_repro(tmp_path: Path, cache_type: str | None) -> None:
    pair = Pair.create(tmp_path, FILES)
    configure(pair, cache_type)
    ran, twin_ran, _ = pair.step("first")
    assert ran == twin_ran
    assert_same_as_twin(pair)
    counts = hashed(pair)
    # every output file was hashed by the workers, DVC only read their hashes
    assert counts["files"] >= 3 + 1 + 1 + 301 + 1 + 1
    if counts["copy"]:  # DVC would copy bytes into the cache: staged from the same read
        assert counts["placed"] >= 3 + 100 + 150 + 1
    else:  # it links (hardlink first, or a reflink filesystem): hashes only
        assert counts["staged"] == counts["placed"] == 0
    assert counts["copy"] == (cache_type != "hardlink" and counts["copy"])
    if counts["copy"] and cache_type is None:  # DVC would copy each file back out of the cache
        assert counts["not_copied_back"] >= 3 + 1 + 1
    # outputs and cache shared by two runs: the second adds nothing
    pair.both("rm -f big_1.bin && rm -rf many")
    ran, twin_ran, _ = pair.step("second")
    assert ran == twin_ran == ["big1", "many"]
    assert_same_as_twin(pair)


def test_a_kill_while_a_cache_copy_is_written_leaves_no_wrong_up_to_date(tmp_path: Path) -> None:
    pair = Pair.create(tmp_path, FILES)
    configure(pair, "copy")
    gate = tmp_path / "gate"
    gate.touch()
    runlog = pair.logs / "killed.sm"
    runlog.touch()
    proc = subprocess.Popen(
        [str(BIN / "snakemake"), "-s", str(pair.sm / SNAKEFILE), "-j", "8"],
        cwd=pair.sm,
        env=tool_env(RUNLOG=str(runlog), **{filehash.PAUSE_ENV: str(gate)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    reached = Path(f"{gate}.reached")
    deadline = time.monotonic() + 120
    while not reached.exists():  # a worker is inside a staged copy
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "no staged copy was ever started"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    run([str(BIN / "snakemake"), "-s", str(pair.sm / SNAKEFILE), "--unlock"], pair.sm)
    staging = [p for p in (pair.sm / ".dvc/cache").iterdir() if p.name.startswith(".paraffin")]
    assert staging, "the kill should have left a staged temp file"
    # no object in the cache is anything but its own bytes
    for rel, (md5, _) in tree(pair.sm / ".dvc/cache/files/md5").items():
        if not rel.endswith(".dir"):
            assert rel.replace("/", "") == md5
    status = json.loads(run([str(BIN / "dvc"), "status", "--json"], pair.sm).stdout)
    assert status, "nothing was recorded, so DVC must not call it up to date"
    gate.unlink()
    again = pair.snakemake("again")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "join" in executed(pair.logs / "again.sm")
    pair.repro("twin")
    assert_same_as_twin(pair)
