"""`paraffin run`: export the Snakefile to `.paraffin/` and run Snakemake on it.

The predecessor's one-command workflow (`paraffin` then workers) becomes one
`snakemake` process: the export is redone every time, so edits to dvc.yaml
or paraffin.yaml never leave a stale Snakefile behind.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from .backends import ExportOptions, get_backend
from .export import ExportRequest, run_export
from .frontend import find_root
from .paths import SNAKEFILE
from .selection import Mode


@dataclass(frozen=True)
class RunRequest:
    targets: tuple[str, ...] = ()
    jobs: int | None = None
    keep_going: bool = False
    dry_run: bool = False
    start: Path = Path(".")
    config: Path | None = None
    runner: str = "paraffin"
    snakemake_args: tuple[str, ...] = ()


def run_pipeline(request: RunRequest, stdout: TextIO, stderr: TextIO) -> int:
    """Export, then run Snakemake from the DVC root; Snakemake's exit code."""
    root = find_root(request.start)
    snakefile = root / SNAKEFILE
    export = ExportRequest(
        backend=get_backend("snakemake"),
        options=ExportOptions(runner=request.runner),
        targets=request.targets,
        mode=Mode.UPSTREAM,
        start=root,
        config=request.config,
        output=os.fspath(snakefile),
    )
    run_export(export, stdout, stderr)
    stdout.flush()
    return call(snakemake_command(snakefile, request), cwd=root, env=job_env())


def snakemake_command(snakefile: Path, request: RunRequest) -> list[str]:
    # The interpreter running paraffin: the Snakefile imports paraffin_export.
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", os.fspath(snakefile)]
    cmd += ["--jobs", str(request.jobs or os.cpu_count() or 1)]
    if request.keep_going:
        cmd.append("--keep-going")
    if request.dry_run:
        cmd.append("--dry-run")
    return cmd + list(request.snakemake_args)


def job_env() -> dict[str, str]:
    """The jobs call `dvc`: make it the one installed next to this paraffin
    (a venv's bin/), also when that venv is not activated."""
    env = dict(os.environ)
    bindir = os.path.dirname(sys.executable)
    if os.path.exists(os.path.join(bindir, "dvc")):
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    return env


def split_args(text: str | None) -> tuple[str, ...]:
    return tuple(shlex.split(text)) if text else ()


def call(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> int:
    """Run ``cmd`` to the end. Ctrl-C reaches Snakemake directly (same process
    group), so we wait for its shutdown rather than dying first; SIGTERM sent
    to us is passed on. A child killed by a signal gives 128 + signal."""
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env)

    def forward(signum: int, frame: FrameType | None) -> None:
        proc.send_signal(signum)

    old = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                continue
    finally:
        signal.signal(signal.SIGTERM, old)
    return 128 - code if code < 0 else code
