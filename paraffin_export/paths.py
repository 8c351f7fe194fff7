"""The `.paraffin/` folder in a DVC root: every path paraffin-export writes there.

It holds only derived state, never source (`ensure_dirs` keeps it out of git):

- ``done/<rule>``: the marker a Snakefile rule's job leaves behind (its declared
  output: never DVC's outputs, which Snakemake would delete before the job);
- ``logs/<name>.log``: that job's log, named after the stage's address
  (`naming.log_names`: `train@cnn.log`);
- ``run/``: the files through which the `paraffin` runner's jobs and its
  coordinator talk (`runtime.verdict_script`, `runtime.journal`): ``verdict/``, ``journal/``
  (entries and the run's ``stamps``), ``started/`` (per rule, the token of the run whose
  job started its command), ``heartbeat``, ``token`` (``TOKEN PID HOST`` of the running
  coordinator, a new random token per run: verdicts carry it and journal
  entries carry it back) and ``jobs/`` (``TOKEN PID HOST`` of each live job;
  emptied as it ends, and kept), and the run's ``lock`` (`runtime.runlock`);
- ``Snakefile``: what `paraffin run` exports and runs;
- ``slurm/``: job ids and logs of the SLURM submit script;
- ``cache/``: the IR of the last load and what it was read from
  (`ircache`), the stages the last status found up to date (`statuscache`),
  and what DVC parsed from each `dvc.yaml` (`dvcreads`).

Every path is relative to the DVC root. Standard library only, and cheap to
import: jobs import it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PARAFFIN_DIR = ".paraffin"
MARKER_DIR = f"{PARAFFIN_DIR}/done"
LOG_DIR = f"{PARAFFIN_DIR}/logs"
RUN_DIR = f"{PARAFFIN_DIR}/run"
SNAKEFILE = f"{PARAFFIN_DIR}/Snakefile"
SLURM_DIR = f"{PARAFFIN_DIR}/slurm"
CACHE_DIR = f"{PARAFFIN_DIR}/cache"
# `paraffin run` -> the runtime in its Snakemake process: "1" shows each stage
# as `dvc repro` would and keeps only Snakemake's warnings; "verbose": all of it
SHOW_STAGES = "PARAFFIN_SHOW_STAGES"
# inside RUN_DIR
VERDICT = "verdict"
JOURNAL = "journal"
STARTED = "started"
HEARTBEAT = "heartbeat"
TOKEN = "token"
JOBS = "jobs"
RUN_LOCK = "lock"
# what a job of an earlier run says (job.sh, a verdict): its coordinator is gone
FOREIGN = "this job belongs to an earlier run of the project, whose coordinator is gone"


def marker(rule: str) -> str:
    """The marker a rule's job leaves behind."""
    return f"{MARKER_DIR}/{rule}"


def job_log(name: str) -> str:
    """The log of a stage's job; ``name`` from `naming.log_names`."""
    return f"{LOG_DIR}/{name}.log"


def run_dir(root: str | os.PathLike[str]) -> str:
    """The `paraffin` runner's message folder under the DVC root ``root``."""
    return os.path.join(root, RUN_DIR)


def ensure_dirs(root: str | os.PathLike[str]) -> None:
    """Create the marker and log folders; `.paraffin/` holds only derived
    state, so a `.gitignore` in it keeps it out of git."""
    for sub in (MARKER_DIR, LOG_DIR):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    ensure_ignored(root)


def ensure_ignored(root: str | os.PathLike[str]) -> None:
    """`.paraffin/` (created if missing) out of git."""
    os.makedirs(os.path.join(root, PARAFFIN_DIR), exist_ok=True)
    ignore = os.path.join(root, PARAFFIN_DIR, ".gitignore")
    if not os.path.exists(ignore):
        with open(ignore, "w", encoding="utf-8") as handle:
            handle.write("# written by paraffin-export: markers and logs, no source\n*\n")


def dvc_root(start: str | os.PathLike[str]) -> Path | None:
    """`Repo.find_root`'s walk without importing DVC (a cached re-export or
    status needs no DVC at all): up to the first directory with a `.dvc`
    dir, stopping at a mount point; None sends the caller to DVC's own (and
    its error)."""
    from pathlib import Path

    current = os.path.abspath(start)
    if not os.path.isdir(current):
        return None
    while True:
        if os.path.isdir(os.path.join(current, ".dvc")):
            return Path(current).resolve()
        parent = os.path.dirname(current)
        if os.path.ismount(current) or parent == current:
            return None
        current = parent
