"""Failure behaviour: a failing stage under `--keep-going`, and Snakemake
interrupted mid-run. Checked against a twin on which `dvc repro` runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import BIN, paraffin, run, tool_env
from snakemake_support import SNAKEFILE, Pair, executed, locks, snakemake

LOG = 'echo {} >> "$RUNLOG"'

FAILING = f"""\
stages:
  a:
    cmd: {LOG.format("a")} && echo a > a.txt
    outs: [a.txt]
  bad:
    cmd: {LOG.format("bad")} && test ! -e FAIL && cat a.txt > bad.txt
    deps: [a.txt]
    outs: [bad.txt]
  after_bad:
    cmd: {LOG.format("after_bad")} && cat bad.txt > after_bad.txt
    deps: [bad.txt]
    outs: [after_bad.txt]
  c1:
    cmd: {LOG.format("c1")} && echo c > c1.txt
    outs: [c1.txt]
  c2:
    cmd: {LOG.format("c2")} && cat c1.txt a.txt > c2.txt
    deps: [c1.txt, a.txt]
    outs: [c2.txt]
"""


def test_keep_going_then_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pair = Pair.create(tmp_path, {"dvc.yaml": FAILING, ".gitignore": ".snakemake/\n"})
    pair.both("touch FAIL")

    # `paraffin run -k`: Snakemake's exit code comes through
    monkeypatch.setenv("RUNLOG", str(pair.logs / "1.sm"))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    assert paraffin("run", "-C", pair.sm, "-j", "8", "-k").code == 1
    twin = pair.repro("1", "--keep-going", check=False)
    assert twin.returncode != 0
    assert executed(pair.logs / "1.sm") == executed(pair.logs / "1.twin")
    assert executed(pair.logs / "1.sm") == ["a", "bad", "c1", "c2"]
    assert locks(pair.sm) == locks(pair.twin)
    assert set(locks(pair.sm)["dvc.lock"]["stages"]) == {"a", "c1", "c2"}

    pair.both("rm FAIL")
    got, want, _ = pair.step("2")
    assert got == want == ["after_bad", "bad"]
    assert locks(pair.sm) == locks(pair.twin)


SLEEPY = f"""\
stages:
  w:
    foreach: [a, b, c, d]
    do:
      cmd: >-
        {LOG.format("start-${item}")}
        && until [ -z "$GATE" ] || [ -e "$GATE/${{item}}" ]; do sleep 0.05; done
        && echo ${{item}} > w_${{item}}.txt && {LOG.format("end-${item}")}
      outs: ["w_${{item}}.txt"]
  join:
    cmd: {LOG.format("join")} && cat w_a.txt w_b.txt w_c.txt w_d.txt > all.txt
    deps: [w_a.txt, w_b.txt, w_c.txt, w_d.txt]
    outs: [all.txt]
"""


@pytest.fixture(scope="module")
def sleepy_lock(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """dvc.lock after a plain, uninterrupted `dvc repro`: every run of this
    project ends with these same hashes."""
    from conftest import init_dvc_repo

    root = init_dvc_repo(tmp_path_factory.mktemp("twin") / "p", {"dvc.yaml": SLEEPY})
    run([str(BIN / "dvc"), "repro"], root, env=tool_env(RUNLOG=os.devnull))
    return locks(root)


@pytest.mark.parametrize(
    ("signum", "whole_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c", "sigterm"],
)
def test_interrupted_run_is_finished_by_the_next(
    tmp_path: Path, sleepy_lock: dict[str, object], signum: int, whole_group: bool
) -> None:
    """Ctrl-C (SIGINT to the whole process group: DVC and the stage commands
    get it too) or SIGTERM to Snakemake (graceful: running jobs finish), sent
    while the second wave of stages is mid-command. Each `w` stage holds in
    its command until the test opens its gate (no GATE: at once), so the
    signal lands mid-command however slow the machine is."""
    from conftest import init_dvc_repo

    root = init_dvc_repo(tmp_path / "p", {"dvc.yaml": SLEEPY, ".gitignore": ".snakemake/\n"})
    assert paraffin("export", "snakemake", "-C", root, "-o", root / SNAKEFILE).code == 0
    runlog, gates = tmp_path / "first.log", tmp_path / "gates"
    runlog.touch()
    gates.mkdir()
    cmd = [str(BIN / "snakemake"), "-s", str(root / SNAKEFILE), "-j", "2"]
    output = (tmp_path / "snakemake.out").open("w")  # shown if it outlives the signal
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        env=tool_env(RUNLOG=str(runlog), GATE=str(gates)),
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT,
    )

    def started() -> list[str]:
        return [t.removeprefix("start-") for t in executed(runlog) if t.startswith("start-")]

    _wait_for(lambda: len(started()) == 2, proc)
    first_wave = set(started())
    for item in first_wave:  # the first wave finishes
        (gates / item).touch()
    _wait_for(lambda: len(started()) == 4, proc)  # the second wave holds
    (os.killpg if whole_group else os.kill)(proc.pid, signum)
    if not whole_group:  # graceful: the running jobs may finish
        _open(gates)
    try:
        assert _wait_or_explain(proc, tmp_path / "snakemake.out") != 0
    finally:
        _open(gates)  # no command outlives the test
        output.close()

    # dvc.lock is readable and keeps every stage whose command finished
    lock = yaml.safe_load((root / "dvc.lock").read_text()) if (root / "dvc.lock").exists() else {}
    done = set((lock or {}).get("stages", {}))
    first = executed(runlog)
    finished = {t.removeprefix("end-") for t in first if t.startswith("end-")}
    assert {f"w@{x}" for x in finished} <= done
    if whole_group:  # the held commands died with the interrupt
        assert finished == first_wave
    else:  # graceful: whatever had started, finished and was recorded
        assert finished == set(started())

    again = snakemake(root, runlog=tmp_path / "second.log")
    assert again.returncode == 0, again.stderr
    second = executed(tmp_path / "second.log")
    assert not {f"start-{s.removeprefix('w@')}" for s in done} & set(second)
    assert "join" in second
    assert locks(root) == sleepy_lock


def _wait_or_explain(proc: subprocess.Popen[bytes], output: Path, timeout: float = 300) -> int:
    """Snakemake's exit code; if it is still running after ``timeout``, fail
    with what it printed and the processes still in its group, not a bare
    timeout (CI once saw it outlive Ctrl-C by 120 s under load)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        tree = subprocess.run(
            ["ps", "-o", "pid,stat,etime,args", "-g", str(proc.pid)], capture_output=True, text=True
        ).stdout
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        tail = output.read_text(errors="replace")[-4000:]
        raise AssertionError(
            f"snakemake outlived the signal by {timeout} s\n{tree}\n{tail}"
        ) from None


def _open(gates: Path) -> None:
    for item in "abcd":
        (gates / item).touch()


def _wait_for(condition, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "snakemake ended before the interrupt"
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)
