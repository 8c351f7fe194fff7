"""The `paraffin` runner never records wrong data, whatever runs beside it or
crashes (issue 15). Each attack lands at a chosen point: stage commands wait
on gate files the test creates, and the coordinator's batches are held open by
a hook its process runs (`coordmain.HOOK_ENV`). After each attack either the
project equals a `dvc repro` twin or the run failed loudly and the next run
gets there; never a wrong hash with a clean status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BIN, run, tool_env
from snakemake_support import SNAKEFILE, Pair, dvc_status, executed, locks

from paraffin_export.runtime.coordmain import HOOK_ENV

# `s` writes 6 lines, waiting on the gate `go` after the first; `d` counts them
GATED = """\
stages:
  s:
    cmd: >-
      echo s >> "$RUNLOG" && echo 1 > out.txt && touch "$GATES/mid.$$" &&
      while [ ! -e "$GATES/go" ]; do sleep 0.02; done &&
      for i in 2 3 4 5 6; do echo $i >> out.txt; done
    outs: [out.txt]
  d:
    cmd: echo d >> "$RUNLOG" && wc -l < out.txt > count.txt
    deps: [out.txt]
    outs: [count.txt]
"""
FILES = {"dvc.yaml": GATED, ".gitignore": ".snakemake/\n"}
HOOKED = ".paraffin/coordinator_hook.py"


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    """A failing test leaves no Snakemake waiting on a gate (nor its jobs)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def gates(pair: Pair) -> Path:
    path = pair.logs.parent / "gates"
    path.mkdir(exist_ok=True)
    return path


def start(pair: Pair, name: str, snakefile: str = SNAKEFILE) -> subprocess.Popen[str]:
    runlog = pair.logs / f"{name}.sm"
    runlog.touch()
    # `default_target` does not carry through `include:`: name `all`
    cmd = [str(BIN / "snakemake"), "-s", str(pair.sm / snakefile), "-j", "4", "all"]
    env = tool_env(RUNLOG=str(runlog), GATES=str(gates(pair)))
    proc = subprocess.Popen(
        cmd,
        cwd=pair.sm,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    _STARTED.append(proc)
    return proc


def wait_for(found: object, proc: subprocess.Popen[str], what: str) -> None:
    """Poll until ``found()`` holds (an event the test waits for, not a delay)."""
    deadline = time.monotonic() + 120
    while not found():  # type: ignore[operator]
        if proc.poll() is not None:
            raise AssertionError(f"snakemake ended before {what}:\n{proc.communicate()[0]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def mids(pair: Pair) -> list[Path]:
    return sorted(gates(pair).glob("mid.*"))


def dvc(pair: Pair, *args: str) -> subprocess.CompletedProcess[str]:
    env = tool_env(RUNLOG=str(pair.logs / "user.dvc"), GATES=str(gates(pair)))
    return run([str(BIN / "dvc"), *args], pair.sm, check=False, env=env, timeout=120)


def complete(pair: Pair, name: str) -> str:
    """A whole run, its gates open."""
    return finish(pair, start(pair, name))


def finish(pair: Pair, proc: subprocess.Popen[str]) -> str:
    (gates(pair) / "go").touch()
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return out


def equals_twin(pair: Pair) -> None:
    """dvc.lock, outputs and cache as serial `dvc repro` leaves them."""
    assert dvc_status(pair.sm) == {}
    twin = pair.repro("twin")
    assert twin.returncode == 0
    assert locks(pair.sm) == locks(pair.twin)
    for name in ("out.txt", "count.txt"):
        assert (pair.sm / name).read_text() == (pair.twin / name).read_text(), name
    # every object dvc.lock names is in the cache: `dvc checkout` restores it
    for name in ("out.txt", "count.txt"):
        (pair.sm / name).unlink()
    run([str(BIN / "dvc"), "checkout"], pair.sm)
    assert (pair.sm / "out.txt").read_text() == "1\n2\n3\n4\n5\n6\n"


def twin_pair(tmp_path: Path, files: dict[str, str] = FILES) -> Pair:
    pair = Pair.create(tmp_path, files)
    (gates(pair) / "twin").mkdir()
    (gates(pair) / "twin" / "go").touch()
    pair.repro = _twin_repro(pair)  # type: ignore[method-assign]
    return pair


def _twin_repro(pair: Pair):  # type: ignore[no-untyped-def]
    def repro(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = tool_env(RUNLOG=str(pair.logs / f"{name}.twin"), GATES=str(gates(pair) / "twin"))
        return run([str(BIN / "dvc"), "repro", *args], pair.twin, env=env)

    return repro


def test_dvc_commands_beside_a_running_stage_find_it_busy(tmp_path: Path) -> None:
    """Point 2: `dvc commit -f s` and `dvc repro` while `s` writes its output
    fail as beside plain `dvc repro` ("'out.txt' is busy"), instead of
    committing a half-written output."""
    pair = twin_pair(tmp_path)
    proc = start(pair, "first")
    wait_for(lambda: mids(pair), proc, "s reached its gate")
    commit = dvc(pair, "commit", "-f", "s")
    assert commit.returncode != 0 and "is busy" in commit.stderr, commit.stdout + commit.stderr
    repro = dvc(pair, "repro", "d")
    assert repro.returncode != 0 and "is busy" in repro.stderr, repro.stdout + repro.stderr
    finish(pair, proc)
    equals_twin(pair)


# Holds every `dvc.lock` write until the run ends, with `a` committed to the
# cache early: the widest window between a commit and its dvc.lock entry. Run
# in the coordinator's process (`coordmain.HOOK_ENV`).
HOOK = """\
import os
from paraffin_export.runtime import coordinator

_step = coordinator.Coordinator._step


def held_open(self, flush=False):
    self.locks._next_write = float("inf")
    busy = _step(self, flush)
    if not flush and any(st.name == "a" for st in self.locks.unwritten):
        open(os.path.join(os.environ["GATES"], "committed"), "w").close()
    return busy


coordinator.Coordinator._step = held_open
"""

GC_PROJECT = (
    GATED
    + """\
  a:
    cmd: echo a >> "$RUNLOG" && echo a > a.txt
    outs: [a.txt]
"""
)


def test_gc_during_a_run_never_deletes_committed_objects(tmp_path: Path) -> None:
    """Point 3: `dvc gc -w -f` between a stage's commit to the cache and its
    dvc.lock entry: it waits for the repo lock (here it gives up: "Unable to
    acquire lock") instead of deleting the stage's objects."""
    files = dict(FILES, **{"dvc.yaml": GC_PROJECT, HOOKED: HOOK})
    pair = twin_pair(tmp_path, files)
    proc = start_with(pair, "first", **{HOOK_ENV: str(pair.sm / HOOKED)})
    wait_for(lambda: (gates(pair) / "committed").exists(), proc, "a was committed")
    gc = dvc(pair, "gc", "-w", "-f")
    assert gc.returncode != 0 and "Unable to acquire lock" in gc.stderr, gc.stdout + gc.stderr
    finish(pair, proc)
    equals_twin(pair)
    assert (pair.sm / "a.txt").read_text() == "a\n"
    (pair.sm / "a.txt").unlink()
    run([str(BIN / "dvc"), "checkout", "a"], pair.sm)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def wait_gone(pid: int, what: str, within: float = 30) -> None:
    """Poll until ``pid`` is gone (an event, not a delay); fail after ``within`` s."""
    deadline = time.monotonic() + within
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"{what} by {within:g} s"
        time.sleep(0.02)


def unlock(pair: Pair) -> None:
    run([str(BIN / "snakemake"), "-s", str(pair.sm / SNAKEFILE), "--unlock"], pair.sm)


def test_a_crashed_runs_job_never_passes_for_the_next_runs(tmp_path: Path) -> None:
    """Point 1, the probe's case: Snakemake's main process SIGKILLed (as by the
    OOM killer) while `s` runs; its job lives on. The user reruns as Snakemake
    says (`--unlock`, then `snakemake`). The orphan is stopped (its watchdog
    sees its coordinator gone; the new run waits for it) and cannot finish
    `s` for the new run: `s` runs again, whole, and `d` counts 6 lines."""
    pair = twin_pair(tmp_path)
    first = start(pair, "first")
    wait_for(lambda: mids(pair), first, "s reached its gate")
    orphan = int(mids(pair)[0].suffix[1:])
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    unlock(pair)
    second = start(pair, "second")
    wait_for(lambda: len(mids(pair)) == 2, second, "s ran again")
    finish(pair, second)
    assert not pid_alive(orphan)
    assert (pair.sm / "count.txt").read_text().strip() == "6"
    equals_twin(pair)


def test_sighup_to_snakemake_ends_its_jobs(tmp_path: Path) -> None:
    """Point 1: a closed terminal (SIGHUP to Snakemake alone) ends the running
    stage command within seconds, not when it finishes; the next run redoes it."""
    pair = twin_pair(tmp_path)
    first = start(pair, "first")
    wait_for(lambda: mids(pair), first, "s reached its gate")
    command = int(mids(pair)[0].suffix[1:])
    os.kill(first.pid, signal.SIGHUP)
    first.wait(timeout=60)
    wait_gone(command, "the stage command outlived Snakemake")
    unlock(pair)
    complete(pair, "again")
    equals_twin(pair)


def test_a_crashed_runs_job_log_says_why_it_stopped(tmp_path: Path) -> None:
    """Point 1: Snakemake's main process SIGKILLed mid-stage: the run's one
    watchdog (a session of its own, so it outlives Snakemake) stops the job,
    its stage command included, and the job's log says why."""
    pair = twin_pair(tmp_path)
    first = start(pair, "first")
    wait_for(lambda: mids(pair), first, "s reached its gate")
    command = int(mids(pair)[0].suffix[1:])
    coordinator = (pair.sm / ".paraffin/run/token").read_text().split()[1]
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    why = f"its process {coordinator} ended"
    said = f"ERROR: the paraffin coordinator of this run is gone ({why}): job stopped\n"
    logs = list((pair.sm / ".paraffin/logs").glob("s.*"))
    deadline = time.monotonic() + 30
    while not any(said in log.read_text() for log in logs):
        assert time.monotonic() < deadline, [log.read_text() for log in logs]
        time.sleep(0.1)
    wait_gone(command, "the stage command outlived Snakemake")


def coordinator_process(snakemake: int) -> int:
    """The pid of Snakemake's coordinator process (`coordproc`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == snakemake and b"coordmain" in cmdline:
            return int(entry.name)
    raise AssertionError(f"no coordinator process under snakemake {snakemake}")


def _listed(held: object) -> list[dict[str, object]]:
    """DVC's rwlock: one holder per written path, a list of them per read one."""
    return held if isinstance(held, list) else [held]  # type: ignore[list-item,return-value]


def test_the_coordinator_process_is_snakemakes_and_dies_with_it(tmp_path: Path) -> None:
    """DVC's work runs in a process of its own (`coordproc`), but every pid
    the run leaves for others to judge it by is Snakemake's: the token jobs
    watch and DVC's rwlock entries. Snakemake SIGKILLed alone (the OOM
    killer): its coordinator ends too, and a `dvc` command then finds
    nothing busy."""
    pair = twin_pair(tmp_path)
    first = start(pair, "first")
    wait_for(lambda: mids(pair), first, "s reached its gate")
    child = coordinator_process(first.pid)
    token = (pair.sm / ".paraffin/run/token").read_text().split()
    assert token[1] == str(first.pid)
    rwlock = json.loads((pair.sm / ".dvc/tmp/rwlock").read_text())
    infos = [i for kind in rwlock.values() for held in kind.values() for i in _listed(held)]
    holders = {info["pid"] for info in infos}
    assert holders == {first.pid}, rwlock
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    wait_gone(child, "the coordinator outlived Snakemake")
    status = dvc(pair, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    unlock(pair)
    complete(pair, "again")
    equals_twin(pair)


def test_a_journal_entry_of_another_run_is_not_this_runs(tmp_path: Path) -> None:
    """Point 1: a journal entry for `s` written by a job of another run (here
    written by the test while this run's `s` is mid-command) does not finish
    `s`: entries must carry this run's token."""
    pair = twin_pair(tmp_path)
    proc = start(pair, "first")
    wait_for(lambda: mids(pair), proc, "s reached its gate")
    entry = pair.sm / ".paraffin/run/journal/s.json"
    entry.write_text(json.dumps({"address": "s", "cmd": ["x"], "token": "an-earlier-run"}))
    # dropped (fixed) or taken as `s` finishing (recorded in dvc.lock, `d` released)
    wait_for(
        lambda: not entry.exists() or (pair.sm / "dvc.lock").exists(), proc, "the entry was seen"
    )
    finish(pair, proc)
    assert (pair.sm / "count.txt").read_text().strip() == "6"
    equals_twin(pair)


def test_a_second_snakemake_touches_nothing(tmp_path: Path) -> None:
    """Point 4: a second `snakemake` beside a run is refused before it replays
    the journal or deletes a marker (Snakemake's own lock comes later)."""
    pair = twin_pair(tmp_path)
    proc = start(pair, "first")
    wait_for(lambda: mids(pair), proc, "s reached its gate")
    second = start(pair, "second")
    out, _ = second.communicate(timeout=120)
    assert second.returncode != 0
    assert "another Snakemake run of this project is in progress" in out, out
    assert "DVC reports" not in out, out  # refused before the plan deletes markers
    finish(pair, proc)
    equals_twin(pair)


def test_runs_again_is_true(tmp_path: Path) -> None:
    """Point 4: a journal entry the replay cannot record is reported as DVC
    then sees its stage: "runs again" only when it does run again."""
    pair = twin_pair(tmp_path)
    complete(pair, "first")
    journal = pair.sm / ".paraffin/run/journal"
    (journal / "s.json").write_text(json.dumps({"address": "s", "cmd": ["stale"]}))
    second = complete(pair, "second")
    ran = executed(pair.logs / "second.sm")
    assert ("runs again" in second) == ("s" in ran), (ran, second)
    assert "s dropped its journal entry: DVC finds it up to date" in second
    equals_twin(pair)


def stopped_orphan(pair: Pair) -> tuple[subprocess.Popen[str], int]:
    """A first run killed (SIGKILL, as by the OOM killer) while `s` runs, its
    job held alive by SIGSTOP (as a suspended or frozen process): its
    watchdog's SIGTERM stays pending. Returns the first run and the job's pid."""
    first = start(pair, "first")
    wait_for(lambda: mids(pair), first, "s reached its gate")
    job = int((pair.sm / ".paraffin/run/jobs/s").read_text().split()[1])
    os.kill(job, signal.SIGSTOP)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    unlock(pair)
    return first, job


def start_with(pair: Pair, name: str, **extra: str) -> subprocess.Popen[str]:
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        return start(pair, name)
    finally:
        for key, value in old.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


def test_a_new_run_waits_for_an_earlier_runs_job_to_end(tmp_path: Path) -> None:
    """Point 1: a new run that finds a job of a crashed run still alive waits
    for it; the job ends during the wait (here: continued, its pending
    SIGTERM ends it), and the run proceeds and equals the twin."""
    pair = twin_pair(tmp_path)
    _, job = stopped_orphan(pair)
    second = start_with(pair, "second", PARAFFIN_ORPHAN_WAIT="600")
    token = pair.sm / ".paraffin/run/token"
    wait_for(lambda: token.read_text().startswith("stopped "), second, "the new run waits")
    assert pid_alive(job)  # the new run is waiting with it alive
    assert not (pair.sm / "dvc.lock").exists()
    os.kill(job, signal.SIGCONT)
    wait_for(lambda: len(mids(pair)) == 2, second, "s ran again")
    out = finish(pair, second)
    waiting = "paraffin: waiting up to 600 s for jobs of an interrupted run to stop"
    assert f"{waiting}: s (pid {job} on " in out, out
    assert not pid_alive(job)
    assert (pair.sm / "count.txt").read_text().strip() == "6"
    equals_twin(pair)


def test_a_new_run_refuses_beside_an_earlier_runs_live_job(tmp_path: Path) -> None:
    """Point 1: a job of a crashed run that outlives the wait
    ($PARAFFIN_ORPHAN_WAIT) makes the new run refuse with one message naming
    the job's stage and pid, before it records or deletes anything."""
    pair = twin_pair(tmp_path)
    first, job = stopped_orphan(pair)
    second = start_with(pair, "second", PARAFFIN_ORPHAN_WAIT="1")
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 2, out
    assert "Traceback" not in out, out
    running = "paraffin: jobs of an interrupted run of this project are still running"
    assert f"{running}: s (pid {job} on " in out, out
    assert "DVC reports" not in out, out  # refused before the plan (markers, journal)
    assert not (pair.sm / "dvc.lock").exists()
    os.killpg(first.pid, signal.SIGKILL)  # the user stops it, as the hint says
    wait_gone(job, "the stopped job outlived SIGKILL", 60)
    complete(pair, "third")
    assert (pair.sm / "count.txt").read_text().strip() == "6"
    equals_twin(pair)
