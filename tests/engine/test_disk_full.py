"""A full disk mid-run ends in one clear line, never a chain of tracebacks
(issue 15, point 4). The project lives on a small tmpfs of its own. Hooks
hold the coordinator's `dvc.lock` write for `a` (a file its process runs,
`coordmain.HOOK_ENV`) and Snakemake's own metadata write for `a` in
`.snakemake` (a Snakefile that includes the generated one) at gates; the test fills the disk at that point, so both writes
meet ENOSPC. Then the space is freed and the next run must finish and equal
a `dvc repro` twin.

The test fills the disk, not a stage's command: a job whose command filled
it could not write its own journal entry, and the file a job empties as it
ends (its entry in `.paraffin/run/jobs/`) gives a block back, so which
write met the full disk would depend on timing. For the same reason the
first `dvc.lock` comes from `dvc repro`: Snakemake rewriting an existing
metadata record truncates it first and fits in the block it freed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import BIN, init_dvc_repo, run, tool_env
from snakemake_support import SNAKEFILE, Pair, dvc_status, locks

from paraffin_export.runtime.coordmain import HOOK_ENV

STAGES = """\
stages:
  a:
    cmd: echo a >> "$RUNLOG" && cat a.in > a.txt
    deps: [a.in]
    outs: [a.txt]
"""
HOOKED = ".paraffin/Hooked.smk"
COORDINATOR_HOOKED = ".paraffin/coordinator_hook.py"
# Gates the test waits for before it fills the disk: `committed` once `a` is
# in DVC's cache and its dvc.lock entry waits (held until the disk is full;
# with $LOCK_FIRST: once written), `recording` once Snakemake is about to
# write `a`'s metadata in .snakemake (held until the disk is full and the
# coordinator tried its dvc.lock write: `tried`).
# in the coordinator's process (`coordmain.HOOK_ENV`)
COORDINATOR_HOOK = """\
import os

from paraffin_export.runtime import coordinator

GATES = os.environ["GATES"]
FIRST = bool(os.environ.get("LOCK_FIRST"))
_step = coordinator.Coordinator._step


def gate(name):
    return os.path.join(GATES, name)


def held_open(self, flush=False):
    filled = os.path.exists(gate("filled"))
    if not FIRST:
        self.locks._next_write = 0.0 if filled else float("inf")
    try:
        return _step(self, flush)
    finally:
        waiting = any(st.name == "a" for st in self.locks.unwritten)
        if filled:
            open(gate("tried"), "w").close()
        elif waiting if not FIRST else "a" in self.settled and not self.locks:
            open(gate("committed"), "w").close()


coordinator.Coordinator._step = held_open
"""
# in Snakemake's process
HOOK = """\
import os
import time

from snakemake.persistence.file import FilePersistence

GATES = os.environ["GATES"]
FIRST = bool(os.environ.get("LOCK_FIRST"))
_write_record = FilePersistence._write_record


def gate(name):
    return os.path.join(GATES, name)


def write_record(self, key, record):
    if record.rule == "a":
        open(gate("recording"), "w").close()
        # after the coordinator tried its dvc.lock write on the full disk
        while not os.path.exists(gate("filled" if FIRST else "tried")):
            time.sleep(0.02)
    return _write_record(self, key, record)


FilePersistence._write_record = write_record


include: "Snakefile"
"""
FILES = {
    "dvc.yaml": STAGES,
    "a.in": "a1\n",
    ".gitignore": ".snakemake/\n",
    HOOKED: HOOK,
    COORDINATOR_HOOKED: COORDINATOR_HOOK,
}


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB filesystem of its own (tmpfs), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    tried = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if tried.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {tried.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def disk_pair(tmp_path: Path, disk: Path) -> Pair:
    """The project on the small disk, its twin and the logs off it."""
    sm = init_dvc_repo(disk / "sm", FILES)
    shutil.copytree(sm, tmp_path / "twin", symlinks=True)
    logs = tmp_path / "runlogs"
    (logs / "gates").mkdir(parents=True)
    pair = Pair(sm, tmp_path / "twin", logs)
    pair.export()
    return pair


def env(pair: Pair, name: str, **extra: str) -> dict[str, str]:
    runlog = pair.logs / f"{name}.log"
    runlog.touch()
    return tool_env(RUNLOG=str(runlog), GATES=str(pair.logs / "gates"), **extra)


def snakemake(pair: Pair, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "snakemake"), "-j", "2", *args]
    return run(cmd, pair.sm, check=False, env=env(pair, name), timeout=300)


def paraffin_run(pair: Pair, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "paraffin"), "run", "-j", "2", *args]
    return run(cmd, pair.sm, check=False, env=env(pair, name), timeout=300)


# how each tool runs the hooked Snakefile (`all`: `default_target` does not
# carry through `include:`)
HOOKED_RUN = {
    "snakemake": lambda sm: [str(BIN / "snakemake"), "-j", "2", "-s", str(sm / HOOKED), "all"],
    "paraffin run": lambda sm: [
        str(BIN / "paraffin"),
        "run",
        "-j",
        "2",
        "--snakemake-args",
        f"--snakefile {sm / HOOKED} all",
    ],
}


def edit_inputs(pair: Pair) -> None:
    for root in (pair.sm, pair.twin):
        (root / "a.in").write_text("a2\n")


def equals_twin(pair: Pair) -> None:
    assert dvc_status(pair.sm) == {}
    run([str(BIN / "dvc"), "repro"], pair.twin, env=env(pair, "twin"))
    assert locks(pair.sm) == locks(pair.twin)
    for name in ("a.txt",):
        assert (pair.sm / name).read_text() == (pair.twin / name).read_text(), name


def wait_for(gate: Path, proc: subprocess.Popen[str]) -> None:
    """Poll until the run reaches ``gate`` (an event, not a delay)."""
    deadline = time.monotonic() + 120
    while not gate.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {gate.name}:\n{proc.communicate()[0]}")
        assert time.monotonic() < deadline, f"timed out waiting for {gate.name}"
        time.sleep(0.02)


def fill(disk: Path) -> None:
    """Every block of the disk taken (dd ends on ENOSPC)."""
    subprocess.run(["dd", "if=/dev/zero", f"of={disk / 'filler'}", "bs=64k"], capture_output=True)
    assert os.statvfs(disk).f_bavail == 0


def full_run(pair: Pair, disk: Path, tool: str, **extra: str) -> str:
    """A first `dvc repro`; then, inputs edited, a run during which the disk
    fills once `a` is committed and Snakemake is writing its metadata.
    Returns what that run printed (stdout and stderr, in order); checks that
    dvc.lock is untouched; frees the space again."""
    # the first dvc.lock; Snakemake has no metadata yet (rewriting a record
    # in place frees its block first: it would fit)
    for root in (pair.sm, pair.twin):
        run([str(BIN / "dvc"), "repro"], root, env=env(pair, "first"))
    before = (pair.sm / "dvc.lock").read_text()
    edit_inputs(pair)
    proc = subprocess.Popen(
        HOOKED_RUN[tool](pair.sm),
        cwd=pair.sm,
        env=env(pair, "full", **extra, **{HOOK_ENV: str(pair.sm / COORDINATOR_HOOKED)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        gates = pair.logs / "gates"
        wait_for(gates / "committed", proc)
        wait_for(gates / "recording", proc)
        fill(disk)
        (gates / "filled").touch()
        text, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, text
    # never replaced while the disk was full: whole, valid, the first run's
    # (or, written before the disk filled, the new one)
    lock = (pair.sm / "dvc.lock").read_text()
    assert lock == before if not extra else lock != before, text
    assert yaml.safe_load(lock)["stages"]["a"]
    (disk / "filler").unlink()
    return text


NO_SPACE = re.compile(r"paraffin: cannot write (?P<file>/.*): No space left on device")


@pytest.mark.parametrize("tool", sorted(HOOKED_RUN))
@pytest.mark.parametrize("first", ["dvc.lock write", "metadata only"])
def test_a_full_disk_is_one_clear_line(tmp_path: Path, disk: Path, tool: str, first: str) -> None:
    """The disk fills while the coordinator holds `a`'s dvc.lock entry (or
    after it was written: "metadata only") and Snakemake writes `a`'s
    metadata: the run fails, its last line names the file that could not be
    written and why, no traceback; dvc.lock is the old whole file; once
    space is freed the next run finishes and equals the twin."""
    pair = disk_pair(tmp_path, disk)
    extra = {"LOCK_FIRST": "1"} if first == "metadata only" else {}
    text = full_run(pair, disk, tool, **extra)
    assert "Traceback" not in text, text
    last = NO_SPACE.fullmatch(text.rstrip().splitlines()[-1])
    assert last and last["file"].startswith(os.fspath(pair.sm)), text
    if tool == "snakemake":
        again = snakemake(pair, "again", "-s", os.fspath(pair.sm / SNAKEFILE))
    else:
        again = paraffin_run(pair, "again")
    assert again.returncode == 0, again.stdout + again.stderr
    equals_twin(pair)
