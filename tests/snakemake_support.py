"""Helpers for the Snakemake end-to-end tests: a project and its twin.

The twin is a byte copy of the project (git, .dvc and cache included) on which
plain `dvc repro` runs: the oracle. Stage commands in these tests append a
token to the file named by $RUNLOG, outside every output, so the set of
commands that really ran is known for both sides.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from conftest import BIN, init_dvc_repo, paraffin, run, tool_env

SNAKEFILE = ".paraffin/Snakefile"
LOCK_FAILURES = ("Unable to acquire lock", "is busy", "failed to reproduce")

# Every kind of name DVC accepts and a shell or Snakemake could trip over.
HOSTILE_KEYS = [
    "it's",
    'say "hi"',
    "$(touch pwned)",
    "`touch pwned`",
    "{x}",
    "{{y}}",
    "a b",
    "größe",
    "semi;colon",
    "back\\slash",
    "new\nline",
    "tab\there",
    "-dash",
    "%s %(x)s",
    "*glob?",
]


@dataclass
class Pair:
    """A project run by Snakemake (``sm``) and its twin run by `dvc repro`."""

    sm: Path
    twin: Path
    logs: Path
    runner: str = "paraffin"

    @classmethod
    def create(
        cls, base: Path, files: dict[str, str], subdir: str = ".", runner: str = "paraffin"
    ) -> Pair:
        sm = init_dvc_repo(base / "sm", files, subdir)
        twin_git = base / "twin"
        shutil.copytree(base / "sm", twin_git, symlinks=True)
        twin = twin_git / subdir
        logs = base / "runlogs"
        logs.mkdir()
        pair = cls(sm, twin, logs, runner)
        pair.export()
        return pair

    def export(self) -> None:
        result = paraffin(
            "export", "snakemake", "-C", self.sm, "-o", self.sm / SNAKEFILE, "--runner", self.runner
        )
        assert result.code == 0, result.stderr

    def both(self, *cmd: str) -> None:
        """Run a shell command (a mutation) in both repositories."""
        for root in (self.sm, self.twin):
            run(["bash", "-c", " ".join(cmd)], root)

    def step(
        self, name: str, *snakemake_args: str
    ) -> tuple[list[str], list[str], subprocess.CompletedProcess[str]]:
        """One scenario: `snakemake -j 8` here while `dvc repro` runs on the twin
        (separate repositories: running them side by side changes nothing).
        Returns the executed command tokens (sorted) of each side, and
        Snakemake's result; both sides must succeed."""
        twin_log = self.logs / f"{name}.twin"
        twin_log.touch()
        twin = subprocess.Popen(
            [str(BIN / "dvc"), "repro"],
            cwd=self.twin,
            env=tool_env(RUNLOG=str(twin_log)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        got = self.snakemake(name, *snakemake_args)
        twin_out, _ = twin.communicate(timeout=600)
        assert got.returncode == 0, got.stdout + got.stderr
        assert twin.returncode == 0, twin_out
        return executed(self.logs / f"{name}.sm"), executed(twin_log), got

    def snakemake(self, name: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return snakemake(self.sm, *args, runlog=self.logs / f"{name}.sm", **kwargs)

    def repro(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = tool_env(RUNLOG=str(self.logs / f"{name}.twin"))
        return run([str(BIN / "dvc"), "repro", *args], self.twin, env=env, check=check)


def snakemake(
    root: Path,
    *args: str,
    runlog: Path,
    snakefile: str = SNAKEFILE,
    jobs: int = 8,
    check: bool = False,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """A plain `snakemake -s SNAKEFILE -j N ARGS` as a user types it."""
    cmd = [str(BIN / "snakemake"), "-s", str(root / snakefile), "-j", str(jobs), *args]
    env = tool_env(RUNLOG=str(runlog))
    runlog.touch()
    return run(cmd, cwd or root, check=check, env=env, timeout=timeout)


def executed(runlog: Path) -> list[str]:
    return sorted(runlog.read_text().split()) if runlog.exists() else []


def locks(root: Path) -> dict[str, Any]:
    """Every dvc.lock under ``root``, parsed (entry order is run order: ignore it)."""
    found = {}
    for path in sorted(root.rglob("dvc.lock")):
        if ".git" in path.parts or ".dvc" in path.parts:
            continue
        found[path.relative_to(root).as_posix()] = yaml.safe_load(path.read_text())
    return found


def dvc_status(root: Path) -> Any:
    return json.loads(run([str(BIN / "dvc"), "status", "--json"], root).stdout)


def stage_logs(root: Path) -> dict[str, str]:
    logs = root / ".paraffin" / "logs"
    return {p.name: p.read_text() for p in sorted(logs.glob("*.log"))} if logs.is_dir() else {}


def lock_failures(root: Path) -> list[str]:
    return [
        f"{name}: {line}"
        for name, text in stage_logs(root).items()
        for line in text.splitlines()
        if any(bad in line for bad in LOCK_FAILURES)
    ]


def dvc_ran(text: str) -> Counter[str]:
    """Stages DVC says it ran ("Running stage 'X':"), from `dvc repro` output."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("Running stage '") and line.endswith("':"):
            found[line[len("Running stage '") : -2]] += 1
    return found


def clear_stage_logs(root: Path) -> None:
    shutil.rmtree(root / ".paraffin" / "logs", ignore_errors=True)


__all__ = [
    "Pair",
    "dvc_ran",
    "dvc_status",
    "executed",
    "locks",
    "lock_failures",
    "snakemake",
    "stage_logs",
    "clear_stage_logs",
]
