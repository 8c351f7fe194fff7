"""job.sh and the verdict scripts it sources, run by a real `sh`: what the
`paraffin` runner's fast job path does must be what job.py does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paraffin_export.runtime import messages as rf
from paraffin_export.runtime import verdict_script as jobscript

HOSTILE = 'it\'s a $(touch pwned) `x` "stage"\n@v=1'


def _job(
    root: Path, rule: str, verdict: dict[str, object] | None, **env: str
) -> subprocess.CompletedProcess[str]:
    run = root / rf.RUN_DIR
    for sub in (rf.VERDICT, rf.STARTED, rf.JOURNAL):
        (run / sub).mkdir(parents=True, exist_ok=True)
    if verdict is not None:
        rf.write_json(run / rf.VERDICT / f"{rule}.json", verdict)
        rf.write_text(
            run / rf.VERDICT / f"{rule}.sh", jobscript.compile_verdict(rule, verdict, str(root))
        )
    environ = {"PATH": os.environ["PATH"], "SHELL": "/bin/bash", **env}
    return subprocess.run(
        ["sh", str(jobscript.SCRIPT), rule, sys.executable],
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


def test_runs_commands_like_job_py(tmp_path: Path) -> None:
    cmds = [
        'printf %s "$DVC_STAGE" > s && printf %s "$DVC_ROOT" > r && pwd > "o 1"',
        "echo 2 >> 'o 1'",
    ]
    verdict = _run_verdict(tmp_path, cmds, ["o 1"])
    proc = _job(tmp_path, "r1", verdict)
    assert proc.returncode == 0, proc.stderr
    wdir = tmp_path / "sub dir"
    assert (wdir / "s").read_text() == HOSTILE
    assert (wdir / "r").read_text() == str(tmp_path.resolve())
    assert (wdir / "o 1").read_text() == f"{wdir}\n2\n"
    assert proc.stdout == f"Running stage '{HOSTILE}':\n> {cmds[0]}\n> {cmds[1]}\n"
    entry = json.loads((tmp_path / rf.RUN_DIR / rf.JOURNAL / "r1.json").read_text())
    assert entry == {"address": HOSTILE, "cmd": cmds}  # the coordinator adds the fingerprint
    assert (tmp_path / rf.RUN_DIR / rf.STARTED / "r1").exists()
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "sub dir" / "pwned").exists()
    assert sorted(p.name for p in (tmp_path / rf.RUN_DIR / rf.JOURNAL).iterdir()) == ["r1.json"]


def test_a_preset_dvc_root_is_kept(tmp_path: Path) -> None:
    verdict = _run_verdict(tmp_path, ['printf %s "$DVC_ROOT" > o'], ["o"])
    assert _job(tmp_path, "r", verdict, DVC_ROOT="/elsewhere").returncode == 0
    assert (tmp_path / "sub dir" / "o").read_text() == "/elsewhere"


def test_failures_end_the_job_as_job_py_does(tmp_path: Path) -> None:
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
    assert not list((tmp_path / rf.RUN_DIR / rf.JOURNAL).iterdir())


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
    (tmp_path / rf.RUN_DIR / rf.JOURNAL / "r.json").unlink()
    assert _job(tmp_path, "r", verdict).returncode == 0, "a second start is a retry"


def test_without_a_verdict_job_py_takes_over(tmp_path: Path) -> None:
    """No coordinator (no verdict, no heartbeat): job.py's clear error."""
    proc = _job(tmp_path, "lost", None, PYTHONPATH=os.pathsep.join(sys.path))
    assert proc.returncode == 1
    assert "no paraffin coordinator is running" in proc.stderr


def test_scripts_are_shellcheck_clean(tmp_path: Path) -> None:
    if not shutil.which("shellcheck"):
        if os.environ.get("CI"):
            pytest.fail("shellcheck missing: tests/setup.sh installs it")
        pytest.skip("shellcheck not installed")
    verdict = _run_verdict(tmp_path, ["echo $HOME > o", HOSTILE], ["o", "p q"])
    compiled = tmp_path / "verdict.sh"
    compiled.write_text(jobscript.compile_verdict("r", verdict, str(tmp_path)))
    for script in (jobscript.SCRIPT, compiled):
        check = subprocess.run(
            ["shellcheck", "-s", "sh", str(script)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout
