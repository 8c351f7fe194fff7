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
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml
from conftest import BIN, run, tool_env
from snakemake_support import SNAKEFILE, Pair, dvc_status, executed, locks

from paraffin_export.paths import JOURNAL, RUN_DIR
from paraffin_export.runtime import lockfile
from paraffin_export.runtime.journal import read_entry, read_stamps

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
    """The randomised smoke test (kills land wherever the clock says; the
    chosen points are in test_sigkill_at_chosen_points_is_finished_by_the_next)."""
    pair = Pair.create(tmp_path, FILES)
    rng = random.Random(7)
    for attempt in range(4):
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


# WIDE with a gate in every command: with $GATE set, a stage logs its start and
# holds until $GATE/<its name> or $GATE/all exists, so a kill lands at a chosen point.
HOLD = 'until [ -z "$GATE" ] || [ -e "$GATE/all" ] || [ -e "$GATE/{name}" ]; do sleep 0.05; done'
GATED = {
    "dvc.yaml": "\n".join(
        [
            "stages:",
            "  w:",
            f"    foreach: {list(range(24))}",
            "    do:",
            f'      cmd: echo w${{item}} >> "$RUNLOG" && {HOLD.format(name="w${item}")}'
            " && echo ${item} > w_${item}.txt",
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
                f'    cmd: echo c{i} >> "$RUNLOG" && {HOLD.format(name=f"c{i}")} &&'
                f" cp {'join' if i == 0 else f'c{i - 1}'}.txt c{i}.txt && echo {i} >> c{i}.txt",
                f"    deps: [{'join' if i == 0 else f'c{i - 1}'}.txt]",
                f"    outs: [c{i}.txt]",
            )
        ]
    )
    + "\n",
    ".gitignore": ".snakemake/\n",
}


def _recorded(pair: Pair) -> set[str]:
    path = pair.sm / "dvc.lock"
    text = path.read_text() if path.exists() else ""
    return set((yaml.safe_load(text) or {}).get("stages", {}))


def _until(condition, proc: subprocess.Popen[str], describe, timeout: float = 180) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < end, f"the chosen point was never reached: {describe()}"
        time.sleep(0.05)


def test_sigkill_at_chosen_points_is_finished_by_the_next(tmp_path: Path) -> None:
    """SIGKILL to the whole run (Snakemake, coordinator, jobs) at three chosen
    points, each held by gates however slow the machine: (1) eight commands
    mid-way, nothing recorded; (2) twelve stages recorded in dvc.lock while eight
    more are mid-command; (3) in the chain after the join, c0 recorded and c1
    mid-command. After each, DVC reads the project; the next plain run finishes
    it, reruns nothing recorded, and ends equal to `dvc repro`."""
    pair = Pair.create(tmp_path, GATED)
    gates = tmp_path / "gates"
    gates.mkdir()

    def open_gates(names: Iterable[str]) -> None:
        for name in names:
            (gates / name).touch()

    def run_until(name: str, condition) -> set[str]:  # type: ignore[no-untyped-def]
        """Start a run, wait for ``condition(started)``, SIGKILL it; what it recorded."""
        proc = start(pair, name, GATE=str(gates))
        log = pair.logs / f"{name}.sm"
        _until(
            lambda: condition(set(executed(log))),
            proc,
            lambda: f"{name}: started {executed(log)}, recorded {sorted(_recorded(pair))}",
        )
        before = _recorded(pair)
        kill_group(pair, proc)
        json.loads(run([str(BIN / "dvc"), "status", "--json"], pair.sm).stdout or "{}")
        assert before <= _recorded(pair), "a kill lost a recorded stage"
        return _recorded(pair)

    # (1) eight commands hold (-j 8): killed mid-command, nothing recorded
    assert run_until("mid", lambda started: len(started) == 8) == set()

    # (2) the first eight to start may finish; killed once they are recorded
    # and eight others hold mid-command
    let_through: set[str] = set()

    def eight_recorded_eight_held(started: set[str]) -> bool:
        if not let_through and len(started) == 8:
            let_through.update(started)
            open_gates(started)
        done = {f"w@{w[1:]}" for w in let_through}
        return bool(let_through) and done <= _recorded(pair) and len(started - let_through) == 8

    recorded = run_until("records", eight_recorded_eight_held)
    assert {f"w@{w[1:]}" for w in let_through} <= recorded and len(recorded) < 24

    # (3) every w and c0 may finish: killed with c0 recorded and c1 mid-command
    open_gates([f"w{i}" for i in range(24)] + ["c0"])
    recorded = run_until("chain", lambda started: "c1" in started and "c0" in _recorded(pair))
    assert {"join", "c0"} <= recorded and "c1" not in recorded

    final = pair.snakemake("final")
    assert final.returncode == 0, final.stdout + final.stderr
    assert executed(pair.logs / "final.sm") == ["c1", "c2", "c3"]
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
    entry = pair.sm / RUN_DIR / JOURNAL / "slow.json"
    deadline = time.monotonic() + 120
    # a job.sh entry is replayed once the coordinator has stamped it with its
    # fingerprint (`Journal.claim`); killed before that, the stage runs again
    while read_entry(entry) is None or "slow" not in read_stamps(entry.parent):
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
    assert not list((pair.sm / RUN_DIR / JOURNAL).iterdir())
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


# Where write_atomic is stopped: the writer touches its gate there and waits
# to be SIGKILLed, so every kill lands exactly at its step.
WRITER = """\
import os, sys, time
from pathlib import Path
from paraffin_export.runtime import lockfile

point, gate, path, text = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]

def stop():
    gate.touch()
    time.sleep(600)

real_fsync, real_replace, real_fdopen = os.fsync, os.replace, os.fdopen

class Half:
    def __init__(self, handle):
        self.handle = handle
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)
    def write(self, data):
        self.handle.write(data[: len(data) // 2]); self.handle.flush(); stop()
    def __getattr__(self, name):
        return getattr(self.handle, name)

if point == "half-written":
    os.fdopen = lambda *a, **k: Half(real_fdopen(*a, **k))
elif point == "before-fsync":
    os.fsync = lambda fd: stop()
elif point == "before-rename":
    os.replace = lambda *a: stop()
elif point == "after-rename":
    os.replace = lambda *a: (real_replace(*a), stop())
lockfile.write_lockfile(path, text)
"""


@pytest.mark.parametrize(
    ("point", "survives"),
    [("half-written", 0), ("before-fsync", 0), ("before-rename", 0), ("after-rename", 1)],
)
def test_lock_writes_are_atomic_under_sigkill(tmp_path: Path, point: str, survives: int) -> None:
    """A writer replacing a big dvc.lock, SIGKILLed at each step of the write:
    the file is always one complete version, the old one until the rename."""
    path, gate = tmp_path / "dvc.lock", tmp_path / "gate"
    versions = [
        yaml.safe_dump(
            {"schema": "2.0", "stages": {f"s{i}": {"cmd": f"v{v}"} for i in range(3000)}}
        )
        for v in range(2)
    ]
    path.write_text(versions[0])
    proc = subprocess.Popen([sys.executable, "-c", WRITER, point, gate, path, versions[1]])
    try:
        deadline = time.monotonic() + 120
        while not gate.exists():
            assert proc.poll() is None, f"the writer ended before {point}"
            assert time.monotonic() < deadline, f"the writer never reached {point}"
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    assert path.read_text() == versions[survives]
    # a kill between mkstemp and rename leaves a temp file: the next write clears it
    lockfile.write_lockfile(path, versions[1])
    assert path.read_text() == versions[1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dvc.lock.")]
