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
from .compat import require_supported_snakemake
from .errors import ProjectError, UsageError
from .export import ExportRequest, run_export
from .frontend import find_root
from .paths import SHOW_STAGES, SNAKEFILE
from .selection import Mode


@dataclass(frozen=True)
class RunRequest:
    targets: tuple[str, ...] = ()
    jobs: int | None = None
    keep_going: bool = False
    dry_run: bool = False
    force: bool = False  # `dvc repro -f`: rerun every selected stage, changed or not
    start: Path = Path(".")
    config: Path | None = None
    runner: str = "paraffin"
    snakemake_args: tuple[str, ...] = ()
    verbose: bool = False  # Snakemake's own per-job messages too


def run_pipeline(request: RunRequest, stdout: TextIO, stderr: TextIO) -> int:
    """Export, then run Snakemake from the DVC root; Snakemake's exit code."""
    root = find_root(request.start)
    _check_snakemake()
    require_supported_snakemake()
    snakefile = root / SNAKEFILE
    export = ExportRequest(
        backend=get_backend("snakemake"),
        options=ExportOptions(runner=request.runner),
        targets=request.targets,
        mode=Mode.UPSTREAM,
        start=root,
        config=request.config,
        output=os.fspath(snakefile),
        quiet=True,
    )
    run_export(export, stdout, stderr)
    stdout.flush()
    env = job_env(request.runner)
    # the runner in the Snakefile shows each stage as `dvc repro` would (runtime.report)
    env[SHOW_STAGES] = "verbose" if request.verbose else "1"
    return call(snakemake_command(snakefile, request), cwd=root, env=env)


def _check_snakemake() -> None:
    """Snakemake is an extra: without it `python -m snakemake` only says
    "No module named snakemake"."""
    import importlib.util

    if importlib.util.find_spec("snakemake") is None:
        raise ProjectError(
            f"`paraffin run` needs Snakemake, which is not installed for {sys.executable}",
            hint="install the extra: pip install 'paraffin-export[snakemake]'"
            " (in a clone: pip install '.[snakemake]')",
        )


def snakemake_command(snakefile: Path, request: RunRequest) -> list[str]:
    # The interpreter running paraffin: the Snakefile imports paraffin_export.
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", os.fspath(snakefile)]
    cmd += ["--jobs", str(request.jobs or os.cpu_count() or 1)]
    if request.keep_going:
        cmd.append("--keep-going")
    if request.dry_run:
        cmd.append("--dry-run")
    elif not request.verbose:
        # Snakemake's job, progress and reason messages, for jobs that may then do
        # nothing at all: the stages' own lines replace them; errors still show
        cmd += ["--quiet", "rules", "progress", "host", "reason"]
    if request.force:
        # the Snakefile's documented key (`runtime.plan.FORCE`)
        cmd += ["--config", "force=true"]
    return cmd + list(request.snakemake_args)


def job_env(runner: str) -> dict[str, str]:
    """The user's environment, untouched: stage commands must find the
    `python` (and every other program) `dvc repro` would give them, not the
    ones of the venv paraffin is installed in (pipx). Paraffin's own programs
    go by absolute path instead: Snakemake runs as ``sys.executable -m``, the
    `paraffin` runner's jobs get that interpreter from the Snakefile, and the
    `dvc` runner's jobs run $PARAFFIN_DVC, set here to the dvc beside it."""
    env = dict(os.environ)
    dvc = os.path.join(os.path.dirname(sys.executable), "dvc")
    if runner == "dvc" and os.access(dvc, os.X_OK):
        env.setdefault("PARAFFIN_DVC", dvc)
    return env


def split_args(text: str | None) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text)) if text else ()
    except ValueError as exc:  # an unclosed quote
        raise UsageError(f"--snakemake-args: {exc}: {text}") from None


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
