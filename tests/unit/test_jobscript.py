"""job.sh, the `paraffin` runner's one job, with the verdicts and heartbeats
it sources, run by a real `sh`: it runs a stage's commands as `dvc repro`
does, and stops clearly when the coordinator is gone."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paraffin_export.atomic import write_atomic
from paraffin_export.paths import (
    FOREIGN,
    HEARTBEAT,
    JOBS,
    JOURNAL,
    RUN_DIR,
    STARTED,
    TOKEN,
    VERDICT,
)
from paraffin_export.runtime import runlock
from paraffin_export.runtime import verdict_script as jobscript

HOSTILE = 'it\'s a $(touch pwned) `x` "stage"\n@v=1'


def _job(
    root: Path, rule: str, verdict: dict[str, object] | None, legacy: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    """The job as a Snakefile starts it: sourced by `sh -c` (the Snakefile's
    `shell.executable`), or with ``legacy`` as Snakefiles exported before
    did (`exec sh job.sh RULE PYTHON`)."""
    run = root / RUN_DIR
    for sub in (VERDICT, STARTED, JOURNAL):
        (run / sub).mkdir(parents=True, exist_ok=True)
    if verdict is not None:
        script = jobscript.compile_verdict(rule, verdict, str(root))
        write_atomic(run / VERDICT / f"{rule}.sh", script)
    environ = {"PATH": os.environ["PATH"], "SHELL": "/bin/bash", **env}
    job = ["sh", "-c", f"set -- {shlex.quote(rule)}; . {shlex.quote(str(jobscript.SCRIPT))}"]
    if legacy:
        job = ["sh", str(jobscript.SCRIPT), rule, sys.executable]
    return subprocess.run(
        job,
        cwd=root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _run_verdict(
    root: Path, cmds: list[str], outs: list[str], address: str = HOSTILE
) -> dict[str, object]:
    wdir = root / "sub dir"
    wdir.mkdir(exist_ok=True)
    paths = [str(wdir / o) for o in outs]
    return {
        "action": "run",
        "address": address,
        "cmd": cmds,
        "wdir": str(wdir),
        "remove": paths,
        "outs": paths,
        "deps": [],
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["sourced", "exported-before"])
def test_runs_commands_as_dvc_repro(tmp_path: Path, legacy: bool) -> None:
    cmds = [
        'printf %s "$DVC_STAGE" > s && printf %s "$DVC_ROOT" > r && pwd > "o 1"',
        "echo 2 >> 'o 1'",
    ]
    verdict = _run_verdict(tmp_path, cmds, ["o 1"])
    proc = _job(tmp_path, "r1", verdict, legacy)
    assert proc.returncode == 0, proc.stderr
    wdir = tmp_path / "sub dir"
    assert (wdir / "s").read_text() == HOSTILE
    assert (wdir / "r").read_text() == str(tmp_path.resolve())
    assert (wdir / "o 1").read_text() == f"{wdir}\n2\n"
    assert proc.stdout == f"Running stage '{HOSTILE}':\n> {cmds[0]}\n> {cmds[1]}\n"
    entry = json.loads((tmp_path / RUN_DIR / JOURNAL / "r1.json").read_text())
    assert entry == {"address": HOSTILE, "cmd": cmds}  # the coordinator adds the fingerprint
    assert (tmp_path / RUN_DIR / STARTED / "r1").exists()
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "sub dir" / "pwned").exists()
    assert sorted(p.name for p in (tmp_path / RUN_DIR / JOURNAL).iterdir()) == ["r1.json"]


def test_a_preset_dvc_root_is_kept(tmp_path: Path) -> None:
    verdict = _run_verdict(tmp_path, ['printf %s "$DVC_ROOT" > o'], ["o"])
    assert _job(tmp_path, "r", verdict, DVC_ROOT="/elsewhere").returncode == 0
    assert (tmp_path / "sub dir" / "o").read_text() == "/elsewhere"


def test_failures_end_the_job(tmp_path: Path) -> None:
    proc = _job(tmp_path, "bad", _run_verdict(tmp_path, ["exit 3", "touch never"], ["o"]))
    assert proc.returncode == 1
    assert (
        proc.stderr
        == f"ERROR: failed to reproduce '{HOSTILE}': failed to run: exit 3, exited with 3\n"
    )
    assert not (tmp_path / "sub dir" / "never").exists()
    proc = _job(tmp_path, "noout", _run_verdict(tmp_path, ["true"], ["missing"]))
    assert proc.returncode == 1
    assert proc.stderr == "ERROR: output 'sub dir/missing' does not exist\n"
    assert not list((tmp_path / RUN_DIR / JOURNAL).iterdir())


def test_done_and_fail_verdicts(tmp_path: Path) -> None:
    proc = _job(tmp_path, "d", {"action": "done", "message": f"Stage '{HOSTILE}' didn't change"})
    assert (proc.returncode, proc.stdout) == (0, f"Stage '{HOSTILE}' didn't change\n")
    proc = _job(tmp_path, "f", {"action": "fail", "message": "upstream 'x' failed"})
    assert (proc.returncode, proc.stderr) == (1, "ERROR: upstream 'x' failed\n")


def test_a_retry_removes_the_outputs_first(tmp_path: Path) -> None:
    verdict = _run_verdict(
        tmp_path, ["test ! -e o && test ! -e d && mkdir d && touch o d/f"], ["o", "d"]
    )
    assert _job(tmp_path, "r", verdict).returncode == 0
    (tmp_path / RUN_DIR / JOURNAL / "r.json").unlink()
    assert _job(tmp_path, "r", verdict).returncode == 0, "a second start is a retry"


def test_only_this_runs_marker_makes_a_retry(tmp_path: Path) -> None:
    """Started markers stay from run to run (none is made and freed per
    stage); the token inside says whose. An earlier run's marker is no retry
    (the coordinator's DVC did the cleaning); this run's is."""
    _token(tmp_path, "t2")
    started = tmp_path / RUN_DIR / STARTED / "r"
    verdict = _run_verdict(tmp_path, ["touch o2"], ["o"]) | {"token": "t2"}
    (tmp_path / "sub dir" / "o").touch()
    started.parent.mkdir(parents=True, exist_ok=True)
    started.write_text("t1\n")  # an earlier run's
    assert _job(tmp_path, "r", verdict).returncode == 0
    assert (tmp_path / "sub dir" / "o").exists(), "an earlier run's marker made a retry"
    assert started.read_text() == "t2\n"
    assert jobscript.started_in(str(tmp_path), "t2", ["r", "other"]) == {"r"}
    assert jobscript.started_in(str(tmp_path), "t1", ["r"]) == set()
    (tmp_path / RUN_DIR / JOURNAL / "r.json").unlink()
    retry = _job(tmp_path, "r", verdict)  # this run's marker: a retry, o removed first
    assert (retry.returncode, retry.stderr) == (1, "ERROR: output 'sub dir/o' does not exist\n")


def test_verdicts_in_one_batch_each_run_their_own_rule(tmp_path: Path) -> None:
    """Verdicts go out a batch at a time: one script, one hard link per rule
    (no inode per verdict); each job runs its own rule's branch. A name
    linked to a batch without its rule's branch fails, never runs another's;
    a rule that has a verdict file already gets its own script written."""
    folder = tmp_path / RUN_DIR / VERDICT
    folder.mkdir(parents=True)
    verdicts = jobscript.Verdicts(folder, str(tmp_path))
    for rule in ("a", "b", "c"):
        verdicts.give(rule, {"action": "done", "message": f"Stage '{rule}' didn't change"})
    assert not list(folder.iterdir())  # given, not written yet
    verdicts.flush()
    links = {p.name: p.stat() for p in folder.iterdir()}
    assert sorted(links) == [".batch-1.sh", "a.sh", "b.sh", "c.sh"]
    assert len({st.st_ino for st in links.values()}) == 1  # one file, four names
    for rule in ("a", "b", "c"):
        proc = _job(tmp_path, rule, None)
        assert (proc.returncode, proc.stdout) == (0, f"Stage '{rule}' didn't change\n")
    os.link(folder / ".batch-1.sh", folder / "d.sh")  # no branch for d
    proc = _job(tmp_path, "d", None)
    assert (proc.returncode, proc.stderr) == (1, f"ERROR: {jobscript.NO_VERDICT}\n")
    verdicts.give("a", {"action": "fail", "message": "upstream 'x' failed"})  # a has one
    verdicts.give("e", {"action": "done", "message": "e done"})
    verdicts.flush()
    assert (folder / "a.sh").stat().st_ino != links["a.sh"].st_ino
    assert _job(tmp_path, "a", None).stderr == "ERROR: upstream 'x' failed\n"
    assert _job(tmp_path, "e", None).stdout == "e done\n"
    verdicts.give("f", {"action": "done", "message": "f alone"})  # one: its own file
    verdicts.flush()
    assert (folder / "f.sh").stat().st_nlink == 1
    assert _job(tmp_path, "f", None).stdout == "f alone\n"


def test_without_a_coordinator_the_job_fails_clearly(tmp_path: Path) -> None:
    """No verdict and no heartbeat (`snakemake --no-hooks`): a clear error."""
    proc = _job(tmp_path, "lost", None)
    assert proc.returncode == 1
    assert proc.stderr.startswith("ERROR: no paraffin coordinator is running: start the")


def _heartbeat(root: Path, text: str) -> None:
    (root / RUN_DIR).mkdir(parents=True, exist_ok=True)
    write_atomic(root / RUN_DIR / HEARTBEAT, text)


def test_a_failed_coordinator_stops_the_waiting_job(tmp_path: Path) -> None:
    _heartbeat(tmp_path, jobscript.heartbeat("failed", error=HOSTILE))
    proc = _job(tmp_path, "r", None)
    assert (proc.returncode, proc.stderr) == (
        1,
        f"ERROR: the paraffin coordinator failed: {HOSTILE}\n",
    )


@pytest.mark.parametrize("state", ["stopped", "old"])
def test_a_silent_coordinator_stops_the_waiting_job(tmp_path: Path, state: str) -> None:
    beat = jobscript.heartbeat("running" if state == "old" else state)
    if state == "old":  # two minutes without a beat
        now = f"paraffin_coordinator_time={int(time.time())}"
        assert now in beat
        beat = beat.replace(now, f"paraffin_coordinator_time={int(time.time()) - 120}")
    _heartbeat(tmp_path, beat)
    proc = _job(tmp_path, "r", None)
    assert proc.returncode == 1
    assert "stopped answering; finished stages are journalled" in proc.stderr, proc.stderr


def _token(root: Path, token: str) -> None:
    (root / RUN_DIR / JOBS).mkdir(parents=True, exist_ok=True)
    write_atomic(root / RUN_DIR / TOKEN, f"{token} {os.getpid()} {os.uname().nodename}\n")


def test_a_job_runs_only_its_runs_verdict_and_journals_the_token(tmp_path: Path) -> None:
    """A verdict carries its run's token: the job of another run (a token
    read at its start that is not the verdict's) refuses it; this run's job
    journals the token back."""
    verdict = _run_verdict(tmp_path, ["touch o"], ["o"]) | {"token": "t1"}
    _token(tmp_path, "t0")
    proc = _job(tmp_path, "r", verdict)
    assert (proc.returncode, proc.stderr) == (1, f"ERROR: {FOREIGN}\n")
    assert not (tmp_path / "sub dir" / "o").exists()
    _token(tmp_path, "t1")
    proc = _job(tmp_path, "r", verdict)
    assert proc.returncode == 0, proc.stderr
    entry = json.loads((tmp_path / RUN_DIR / JOURNAL / "r.json").read_text())
    assert entry["token"] == "t1"


def test_a_waiting_job_stops_when_a_new_run_takes_over(tmp_path: Path) -> None:
    """The token changes (a new run started) while the job waits for its
    verdict: the job ends with an error instead of waiting on."""
    _token(tmp_path, "t0")
    _heartbeat(tmp_path, jobscript.heartbeat("running"))
    for sub in (VERDICT, STARTED, JOURNAL):
        (tmp_path / RUN_DIR / sub).mkdir(parents=True, exist_ok=True)
    listed = tmp_path / RUN_DIR / JOBS / "w"
    env = {"PATH": os.environ["PATH"], "SHELL": "/bin/sh"}
    proc = subprocess.Popen(
        ["sh", str(jobscript.SCRIPT), "w"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not listed.exists():  # the job read its token and listed itself
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
        time.sleep(0.01)
    _token(tmp_path, "t1")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert FOREIGN in err or "a new run took the project over" in err, err


def test_an_ended_job_empties_its_listing_and_it_stays(tmp_path: Path) -> None:
    """The job lists itself while it runs and empties its entry as it ends (a
    builtin, no `rm`): empty lists no job and stays for the rule's next job;
    a listing of a job that is gone goes."""
    _token(tmp_path, "t1")
    gate = tmp_path / "gate"
    gate.touch()
    verdict = _run_verdict(tmp_path, [f"while [ -e '{gate}' ]; do sleep 0.01; done"], [])
    verdict |= {"token": "t1"}
    jobs = tmp_path / RUN_DIR / JOBS
    proc = _start_job(tmp_path, "w", verdict)
    deadline = time.monotonic() + 30
    while not _words(jobs / "w"):  # listed
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    # with the host from the start, as the coordinator names it (`_alive_jobs`
    # takes a listing without one for a job on its own host)
    assert _words(jobs / "w") == ["t1", str(proc.pid), socket.gethostname()]
    assert runlock._alive_jobs(jobs) == [("w", str(proc.pid), socket.gethostname())]
    gate.unlink()
    assert proc.wait(timeout=30) == 0, proc.communicate()
    assert (jobs / "w").read_text() == ""
    assert runlock._alive_jobs(jobs) == []  # and unlisted
    assert (jobs / "w").read_text() == ""  # kept, for the rule's next job to write into
    (jobs / "other").write_text("t0 1 elsewhere\n")  # elsewhere, not refreshed: ended
    os.utime(jobs / "other", (0, 0))
    assert runlock._alive_jobs(jobs) == []
    assert [p.name for p in jobs.iterdir()] == ["w"]


def _start_job(root: Path, rule: str, verdict: dict[str, object]) -> subprocess.Popen[str]:
    """`_job`, left running."""
    run = root / RUN_DIR
    for sub in (VERDICT, STARTED, JOURNAL):
        (run / sub).mkdir(parents=True, exist_ok=True)
    write_atomic(run / VERDICT / f"{rule}.sh", jobscript.compile_verdict(rule, verdict, str(root)))
    env = {"PATH": os.environ["PATH"], "SHELL": "/bin/sh"}
    return subprocess.Popen(
        ["sh", str(jobscript.SCRIPT), rule], cwd=root, env=env, stderr=subprocess.PIPE, text=True
    )


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


@pytest.mark.parametrize(
    ("shell", "flags"),
    [("bash", "--noprofile --norc"), ("zsh", "--no-rcs"), ("fish", "--no-config"), ("dash", "")],
)
def test_commands_run_in_the_users_shell_without_rc_files(
    tmp_path: Path, shell: str, flags: str
) -> None:
    """DVC's `_make_cmd`: $SHELL with its no-rc flags, then -c CMD."""
    fake = tmp_path / "bin" / shell
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nprintf \'%s|\' "$@" > "$ARGS"\n')
    fake.chmod(0o755)
    verdict = _run_verdict(tmp_path, ["the command"], [])
    proc = _job(tmp_path, "r", verdict, SHELL=str(fake), ARGS=str(tmp_path / "args"))
    assert proc.returncode == 0, proc.stderr
    expected = "".join(f"{word}|" for word in [*flags.split(), "-c", "the command"])
    assert (tmp_path / "args").read_text() == expected


def test_the_job_uses_the_run_folder_of_paths() -> None:
    """job.sh cannot import `paths`: it names the same folder."""
    assert f"\nparaffin_run_dir={RUN_DIR}\n" in jobscript.SCRIPT.read_text()


def test_scripts_are_shellcheck_clean(tmp_path: Path) -> None:
    if not shutil.which("shellcheck"):
        if os.environ.get("CI"):
            pytest.fail("shellcheck missing: tests/setup.sh installs it")
        pytest.skip("shellcheck not installed")
    verdict = _run_verdict(tmp_path, ["echo $HOME > o", HOSTILE], ["o", "p q"])
    compiled = tmp_path / "verdict.sh"
    compiled.write_text(jobscript.compile_verdict("r", verdict, str(tmp_path)))
    batch = tmp_path / "batch.sh"  # as a batch of verdicts, linked per rule
    done = jobscript.compile_verdict("s", {"action": "done", "message": HOSTILE}, str(tmp_path))
    batch.write_text(jobscript._batch_script({"r": compiled.read_text(), "s": done}))
    for script in (jobscript.SCRIPT, compiled, batch):
        check = subprocess.run(
            ["shellcheck", "-s", "sh", str(script)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout


# A coordinator as `Coordinator.start` and `stop` drive the run's watchdog:
# token and heartbeat written, `runlock.watch` started; on "stop" the heartbeat
# says the run ended, on "unwatch" `runlock.unwatch`; each answered when done.
FAKE_COORDINATOR = """
import socket, sys
from pathlib import Path
from paraffin_export.atomic import write_atomic
from paraffin_export.runtime import runlock, verdict_script
root, token = Path(sys.argv[1]), sys.argv[2]
run = root / ".paraffin/run"
host = socket.gethostname()
write_atomic(run / "token", f"{token} {__import__('os').getpid()} {host}\\n")
write_atomic(run / "heartbeat", verdict_script.heartbeat("running"))
watchdog = runlock.watch(root, token, host)
print(watchdog.pid, flush=True)
for line in sys.stdin:
    if line.strip() == "stop":
        write_atomic(run / "heartbeat", verdict_script.heartbeat("stopped"))
        watchdog.wait(timeout=30)  # else this process ends: the test fails
    else:
        runlock.unwatch(watchdog)
    print("ended", flush=True)
"""


def _coordinator(root: Path, token: str) -> tuple[subprocess.Popen[str], int]:
    """A coordinator process on this host with its run's watchdog; and its pid."""
    (root / RUN_DIR / JOBS).mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", FAKE_COORDINATOR, str(root), token],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _gated_job(root: Path, token: str) -> tuple[subprocess.Popen[str], Path, Path]:
    """A job of run ``token`` whose command (its pid in `cmd.pid`) runs until
    the gate file goes; returns the job, the gate and the pid file."""
    gate, pid = root / "gate", root / "cmd.pid"
    gate.touch()
    cmd = f"echo $$ > '{pid}.new' && mv '{pid}.new' '{pid}'; while [ -e '{gate}' ]; do sleep 0.01; done"
    proc = _start_job(root, "w", _run_verdict(root, [cmd], []) | {"token": token})
    deadline = time.monotonic() + 30
    while not pid.exists():  # the command runs
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    return proc, gate, pid


def _alive(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


def _gone_within(pid: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("how", ["killed", "taken over"])
def test_the_runs_watchdog_stops_its_jobs_once_the_coordinator_is_gone(
    tmp_path: Path, how: str
) -> None:
    """One watchdog per run (`runlock.watch`, `job.sh --watch`), not one per
    job: a job on the coordinator's host starts none of its own (its only
    child is its command). The coordinator SIGKILLed (its watchdog outlives
    it) or a new run's token: the job's command tree is stopped, the job's
    log says why, and the watchdog ends."""
    coordinator, watchdog = _coordinator(tmp_path, "t1")
    job, gate, pid = _gated_job(tmp_path, "t1")
    command = int(pid.read_text())
    assert _children(job.pid) == [command]  # no watchdog of its own
    if how == "killed":
        coordinator.kill()
        coordinator.wait()
        why = f"its process {coordinator.pid} ended"
    else:
        _token(tmp_path, "t2")
        why = "a new run took the project over"
    _, err = job.communicate(timeout=30)
    assert job.returncode != 0
    assert f"ERROR: the paraffin coordinator of this run is gone ({why}): job stopped\n" in err
    assert gate.exists()  # stopped, not ended by itself
    assert _gone_within(command) and _gone_within(watchdog)
    coordinator.kill()
    coordinator.wait()


@pytest.mark.parametrize("how", ["stop", "unwatch"])
def test_the_runs_watchdog_ends_with_the_run_and_stops_nothing(tmp_path: Path, how: str) -> None:
    """The run ends normally (heartbeat "stopped", or `runlock.unwatch` from
    `Coordinator.stop`): the watchdog ends, its `sleep` too, and a job still
    running is not stopped, not even once the coordinator's process ends."""
    coordinator, watchdog = _coordinator(tmp_path, "t1")
    job, gate, pid = _gated_job(tmp_path, "t1")
    assert coordinator.stdin is not None and coordinator.stdout is not None
    coordinator.stdin.write(how + "\n")
    coordinator.stdin.flush()
    assert coordinator.stdout.readline() == "ended\n"
    assert not _alive(watchdog) and not _children(watchdog)
    coordinator.kill()
    coordinator.wait()
    assert job.poll() is None and _alive(int(pid.read_text()))
    gate.unlink()
    _, err = job.communicate(timeout=30)
    assert job.returncode == 0, err


def test_a_job_on_another_host_has_its_own_watchdog(tmp_path: Path) -> None:
    """The run's watchdog cannot see a job on another host: that job watches
    its coordinator itself (here: a new run's token) and stops its command."""
    (tmp_path / RUN_DIR / JOBS).mkdir(parents=True, exist_ok=True)
    write_atomic(tmp_path / RUN_DIR / TOKEN, "t1 1 another-host\n")
    _heartbeat(tmp_path, jobscript.heartbeat("running"))
    job, gate, pid = _gated_job(tmp_path, "t1")
    command = int(pid.read_text())
    assert len(_children(job.pid)) == 2  # the command and the job's watchdog
    _token(tmp_path, "t2")
    _, err = job.communicate(timeout=30)
    assert job.returncode != 0
    why = "a new run took the project over"
    assert f"ERROR: the paraffin coordinator of this run is gone ({why}): job stopped\n" in err
    assert gate.exists() and _gone_within(command)


def test_a_job_whose_coordinator_is_gone_never_starts(tmp_path: Path) -> None:
    """A job on the coordinator's host listed after the run's watchdog last
    looked (its coordinator's process ended before the job started) stops
    itself before its command."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    (tmp_path / RUN_DIR / JOBS).mkdir(parents=True, exist_ok=True)
    write_atomic(tmp_path / RUN_DIR / TOKEN, f"t1 {ended.pid} {socket.gethostname()}\n")
    _heartbeat(tmp_path, jobscript.heartbeat("running"))
    proc = _job(tmp_path, "w", _run_verdict(tmp_path, ["touch o"], ["o"]) | {"token": "t1"})
    why = f"its process {ended.pid} ended"
    assert (proc.returncode, proc.stderr) == (
        1,
        f"ERROR: the paraffin coordinator of this run is gone ({why}): job stopped\n",
    )
    assert not (tmp_path / "sub dir" / "o").exists()
