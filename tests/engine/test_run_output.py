"""What a run shows: `paraffin run` prints what `dvc repro` prints (stage lines,
commands, output, skip lines) and a summary that counts what happened; a
failing stage is reported with its address, exit code, command and log tail,
also in a plain `snakemake -j N` of the generated Snakefile; on a terminal a
live progress line; job logs named after stage addresses."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from conftest import BIN, init_dvc_repo, paraffin, run, tool_env

# b keeps the first character of a's output: with x 1 -> 11, a and b run,
# b's output stays the same, and DVC finds c unchanged once b ran
CHAIN = """stages:
  a:
    cmd: echo a-out && echo ${x} > a.txt
    params: [x]
    outs: [a.txt]
  b:
    cmd: cut -c1 a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: cat b.txt > c.txt
    deps: [b.txt]
    outs: [c.txt]
  train:
    foreach: [cnn]
    do:
      cmd: echo ${item} > model-${item}.txt
      outs: ["model-${item}.txt"]
"""


def project(tmp_path: Path) -> Path:
    return init_dvc_repo(tmp_path / "proj", {"dvc.yaml": CHAIN, "params.yaml": "x: 1\n"})


def paraffin_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "paraffin"), "run", "-j", "2", *args], root, check=False)


def test_paraffin_run_shows_stages_like_dvc_repro(tmp_path: Path) -> None:
    root = project(tmp_path)
    first = paraffin_run(root)
    assert first.returncode == 0, first.stderr
    out = first.stdout + first.stderr
    assert "Running stage 'a':\n> echo a-out && echo 1 > a.txt\na-out\n" in out
    assert "Running stage 'train@cnn':\n> echo cnn > model-cnn.txt\n" in out
    for chatter in ("Select jobs to execute", "Touching output file", "rule a:", "jobid"):
        assert chatter not in out, chatter
    assert "4 stages to run: 4 ran, 0 unchanged once their upstream ran" in out
    assert (root / ".paraffin/logs/train@cnn.log").is_file()  # named after the address

    # 2 of 3 commands run: c is unchanged once b ran (b's output is the same)
    (root / "params.yaml").write_text("x: 11\n")
    second = paraffin_run(root)
    out = second.stdout + second.stderr
    assert second.returncode == 0, out
    assert "DVC reports 3 of 4 stages to run (1 changed; 2 below them" in out
    assert "Stage 'c' didn't change, skipping" in out
    assert "3 stages to run: 2 ran, 1 unchanged once their upstream ran, 0 restored" in out

    # back to x: 1: DVC's run cache restores a and b without running them; c unchanged
    (root / "params.yaml").write_text("x: 1\n")
    third = paraffin_run(root)
    out = third.stdout + third.stderr
    assert "Stage 'a' is cached - skipping run, checking out outputs" in out
    assert "Running stage" not in out
    assert "0 ran, 1 unchanged once their upstream ran, 2 restored from the run cache" in out


def test_verbose_shows_snakemakes_messages(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = paraffin_run(root, "-v")
    assert result.returncode == 0, result.stderr
    assert "Select jobs to execute" in result.stdout + result.stderr
    assert "Running stage 'a':" in result.stdout + result.stderr


FAILING = """stages:
  ok:
    cmd: echo fine > ok.txt
    outs: [ok.txt]
  bad:
    cmd: for i in $(seq 1 30); do echo line $i; done; echo oops >&2; exit 3
    deps: [ok.txt]
    outs: [bad.txt]
  after:
    cmd: cat bad.txt > after.txt
    deps: [bad.txt]
    outs: [after.txt]
"""


def failure_report_shown(text: str) -> None:
    assert "paraffin: stage 'bad' failed with exit code 3" in text, text
    assert "command: for i in $(seq 1 30); do echo line $i; done; echo oops >&2; exit 3" in text
    assert "log: .paraffin/logs/bad.log (last 20 lines)" in text
    assert "  | oops\n" in text and "  | line 30\n" in text and "  | line 10\n" not in text
    assert "0 ran" not in text and "1 ran" in text and "1 failed" in text
    # 'after' never started: the summary's counts add up to the stages to run
    assert "3 stages to run: 1 ran," in text and ", 1 failed, 1 not run;" in text, text


def test_failing_stage_reported_by_paraffin_run(tmp_path: Path) -> None:
    root = init_dvc_repo(tmp_path / "proj", {"dvc.yaml": FAILING})
    result = paraffin_run(root)
    assert result.returncode != 0
    failure_report_shown(result.stderr)
    assert "CalledProcessError" not in result.stderr and "job.sh" not in result.stderr


def test_failing_stage_reported_by_plain_snakemake(tmp_path: Path) -> None:
    root = init_dvc_repo(tmp_path / "proj", {"dvc.yaml": FAILING})
    assert paraffin("export", "snakemake", "-C", root, "-q").code == 0
    result = run([str(BIN / "snakemake"), "-j", "2"], root, check=False)
    assert result.returncode != 0
    failure_report_shown(result.stderr)


def test_live_progress_line_on_a_terminal(tmp_path: Path) -> None:
    root = project(tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN / "paraffin"), "run", "-j", "2"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=tool_env(TERM="xterm", COLUMNS="120"),
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=300) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert " running, " in screen and " left (0:" in screen, screen
    assert "Running stage 'a':" in screen


def test_cmd_whitespace_edit_says_what_really_ran(tmp_path: Path) -> None:
    """The issue's row: after a whitespace edit of the first stage's `cmd`,
    plain `snakemake -j 8` said "DVC reports 3 of 3 stages to run" and listed
    every job though one command ran; now the plan and the summary say so."""
    chain = (
        "stages:\n"
        "  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
        "  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n"
        "  c:\n    cmd: cat b.txt > c.txt\n    deps: [b.txt]\n    outs: [c.txt]\n"
    )
    root = init_dvc_repo(tmp_path / "proj", {"dvc.yaml": chain})
    assert paraffin("export", "snakemake", "-C", root, "-q").code == 0
    run([str(BIN / "snakemake"), "-j", "8"], root)
    (root / "dvc.yaml").write_text(chain.replace("echo a > a.txt", "echo a  > a.txt"))
    again = run([str(BIN / "snakemake"), "-j", "8"], root)
    assert "DVC reports 3 of 3 stages to run (1 changed; 2 below them" in again.stderr
    assert "3 stages to run: 1 ran, 2 unchanged once their upstream ran" in again.stderr


def test_dry_run_names_the_stages_and_force_says_forced(tmp_path: Path) -> None:
    """`paraffin run -n` printed only "DVC reports 3 of 4 stages to run": which
    stages stayed hidden (Snakemake's job list is filtered out); and `-f` said
    "1 changed; 2 below them run only if DVC still finds them changed" although
    `-f` runs all of them, as `dvc repro -f` does."""
    root = project(tmp_path)
    dry = paraffin_run(root, "-n", "c")
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out
    assert "DVC reports 3 of 3 stages to run" in out
    for address in ("a", "b", "c"):
        assert f"paraffin: dry run: would run stage '{address}'\n" in out, out
    assert "Running stage" not in out
    assert not (root / "c.txt").exists()

    assert paraffin_run(root).returncode == 0
    forced = paraffin_run(root, "-f", "b")
    out = forced.stdout + forced.stderr
    assert forced.returncode == 0, out
    assert "paraffin: 2 of 2 stages to run, forced (as `dvc repro -f`)\n" in out, out
    assert "below them" not in out
    assert "2 stages to run: 2 ran" in out
