"""The `paraffin` runner under crashes: whatever is killed when, dvc.lock stays
readable by DVC, finished work is journalled and recorded by the next run
without rerunning it, and the end state equals `dvc repro`'s."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import BIN, run, tool_env
from snakemake_support import SNAKEFILE, Pair, dvc_status, executed, locks

from paraffin_export.runtime import lockfile as lockwrite
from paraffin_export.runtime import messages as rf

# 24 independent stages, a join, and a chain of 4 after it
WIDE = "\n".join(
    [
        "stages:",
        "  w:",
        f"    foreach: {list(range(24))}",
        "    do:",
        '      cmd: echo w${item} >> "$RUNLOG" && sleep 0.2 && echo ${item} > w_${item}.txt',
        '      outs: ["w_${item}.txt"]',
        "  join:",
        '    cmd: echo join >> "$RUNLOG" && cat w_*.txt > join.txt',
        f"    deps: [{', '.join(f'w_{i}.txt' for i in range(24))}]",
        "    outs: [join.txt]",
    ]
    + [
        line
        for i in range(4)
        for line in (
            f"  c{i}:",
            f'    cmd: echo c{i} >> "$RUNLOG" && cat {"join" if i == 0 else f"c{i - 1}"}.txt'
            f" > c{i}.txt && echo {i} >> c{i}.txt",
            f"    deps: [{'join' if i == 0 else f'c{i - 1}'}.txt]",
            f"    outs: [c{i}.txt]",
        )
    ]
)
FILES = {"dvc.yaml": WIDE + "\n", ".gitignore": ".snakemake/\n"}


def start(pair: Pair, name: str, *args: str, **env: str) -> subprocess.Popen[str]:
    """`snakemake -j 8` in its own process group, so one signal kills it all."""
    runlog = pair.logs / f"{name}.sm"
    runlog.touch()
    cmd = [str(BIN / "snakemake"), "-s", str(pair.sm / SNAKEFILE), "-j", "8", *args]
    return subprocess.Popen(
        cmd,
        cwd=pair.sm,
        env=tool_env(RUNLOG=str(runlog), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_group(pair: Pair, proc: subprocess.Popen[str]) -> None:
    """SIGKILL the whole run, then `--unlock` as Snakemake tells users to."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=60)
    run([str(BIN / "snakemake"), "-s", str(pair.sm / SNAKEFILE), "--unlock"], pair.sm)


def test_sigkill_at_any_moment_leaves_a_readable_dvc_lock(tmp_path: Path) -> None:
    pair = Pair.create(tmp_path, FILES)
    rng = random.Random(7)
    for attempt in range(8):
        proc = start(pair, f"kill{attempt}")
        time.sleep(rng.uniform(0.5, 6.0))
        kill_group(pair, proc)
        # DVC reads every dvc.lock of the project after every kill
        status = run([str(BIN / "dvc"), "status", "--json"], pair.sm)
        json.loads(status.stdout or "{}")
    final = pair.snakemake("final")
    assert final.returncode == 0, final.stdout + final.stderr
    assert dvc_status(pair.sm) == {}
    pair.repro("twin")
    assert locks(pair.sm) == locks(pair.twin)


HOLD_LOCK = (
    "import sys, time, zc.lockfile; lock = zc.lockfile.LockFile('.dvc/tmp/lock');"
    " open(sys.argv[1], 'w').close(); time.sleep(30)"
)


def journal_project(flag: Path) -> dict[str, str]:
    """With $HOLD_LOCK set, `slow` finishes with DVC's repo lock held by a
    helper, so the coordinator cannot record it before the test kills the run."""
    hold = f"{Path(sys.executable)} -c {json.dumps(HOLD_LOCK)} {flag}"
    dvc_yaml = f"""\
stages:
  slow:
    cmd: >-
      echo slow >> "$RUNLOG" && echo s > slow.txt &&
      if [ -n "$HOLD_LOCK" ]; then ({hold} &) && while [ ! -e {flag} ]; do sleep 0.05; done; fi
    outs: [slow.txt]
  after:
    cmd: echo after >> "$RUNLOG" && cp slow.txt after.txt
    deps: [slow.txt]
    outs: [after.txt]
"""
    return {"dvc.yaml": dvc_yaml, ".gitignore": ".snakemake/\n"}


def killed_after_journal(pair: Pair, name: str) -> None:
    proc = start(pair, name, HOLD_LOCK="1")
    entry = pair.sm / rf.RUN_DIR / rf.JOURNAL / "slow.json"
    deadline = time.monotonic() + 120
    # a job.sh entry is replayed once the coordinator has fingerprinted it
    # (`Coordinator._fingerprint`); killed before that, the stage runs again
    while "fingerprint" not in (rf.read_json(entry) or {}):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the job was never journalled and fingerprinted"
        time.sleep(0.05)
    kill_group(pair, proc)
    assert not (pair.sm / "dvc.lock").exists()


@pytest.mark.parametrize("touched", [False, True])
def test_journal_replay(tmp_path: Path, touched: bool) -> None:
    pair = Pair.create(tmp_path, journal_project(tmp_path / "held"))
    killed_after_journal(pair, "first")
    (tmp_path / "held").unlink()
    if touched:  # the output changed after the crash: it must not be recorded
        (pair.sm / "slow.txt").write_text("edited\n")
    second = pair.snakemake("second")
    assert second.returncode == 0, second.stdout + second.stderr
    ran_again = executed(pair.logs / "second.sm")
    if touched:
        assert "runs again" in second.stderr
        assert ran_again == ["after", "slow"]
    else:
        assert "recorded 1 stages an interrupted run finished" in second.stderr
        assert ran_again == ["after"]
    assert not list((pair.sm / rf.RUN_DIR / rf.JOURNAL).iterdir())
    assert dvc_status(pair.sm) == {}
    pair.repro("twin")
    assert locks(pair.sm) == locks(pair.twin)


def test_without_the_coordinator_jobs_fail_clearly(tmp_path: Path) -> None:
    pair = Pair.create(tmp_path, FILES)
    result = pair.snakemake("nohooks", "--no-hooks")
    assert result.returncode != 0
    logs = "".join(p.read_text() for p in (pair.sm / ".paraffin/logs").glob("*.log"))
    assert "no paraffin coordinator is running" in logs
    assert executed(pair.logs / "nohooks.sm") == []


def test_lock_writes_are_atomic_under_sigkill(tmp_path: Path) -> None:
    """A writer rewriting a big dvc.lock in a loop, SIGKILLed 30 times at random:
    every time, the file is one of the complete versions."""
    path = tmp_path / "dvc.lock"
    versions = [
        yaml.safe_dump(
            {"schema": "2.0", "stages": {f"s{i}": {"cmd": f"v{v}"} for i in range(3000)}}
        )
        for v in range(2)
    ]
    path.write_text(versions[0])
    code = (
        "import sys; from pathlib import Path; from paraffin_export.runtime.lockfile import write_atomic\n"
        "texts = [Path(sys.argv[2]).read_text(), Path(sys.argv[3]).read_text()]\n"
        "i = 0\n"
        "while True:\n"
        "    write_atomic(Path(sys.argv[1]), texts[i % 2]); i += 1\n"
    )
    sources = []
    for v, text in enumerate(versions):
        sources.append(tmp_path / f"v{v}.txt")
        sources[-1].write_text(text)
    rng = random.Random(3)
    for _ in range(30):
        proc = subprocess.Popen([sys.executable, "-c", code, str(path), *map(str, sources)])
        time.sleep(rng.uniform(0.3, 1.2))
        proc.kill()
        proc.wait()
        assert path.read_text() in versions
    # a kill between mkstemp and rename leaves a temp file: the next write clears it
    lockwrite.write_atomic(path, versions[1])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dvc.lock.")]
