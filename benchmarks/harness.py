"""Running alternatives side by side on copies of one generated project, and
checking every run against DVC before its time is kept."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lockstats
import yaml
from common import BIN, HERE, REPO, WORK, env, median

PARAFFIN = BIN / "paraffin"
SNAKEMAKE = BIN / "snakemake"
DVC = BIN / "dvc"
SNAKEFILE = ".paraffin/Snakefile"
# Every tool the benchmarks start logs DVC repo-lock events here (lockstats.py)
LOCK_LOG = WORK / "lock-events.log"
SHIM = HERE / "lockshim"


class BenchError(RuntimeError):
    """A run failed or gave a wrong result: its time must not be reported."""


@dataclass(frozen=True)
class Opts:
    quick: bool = False
    repeat: int = 3
    jobs: int = 8
    runners: tuple[str, ...] = ("dvc",)
    skip: frozenset[str] = frozenset()
    sizes: tuple[int, ...] = ()  # noop: stage counts, the first with every alternative
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alt:
    """One way to run a project. ``run(root)`` does the work and returns the
    seconds to report (its own makespan) and extra numbers for the JSON."""

    key: str
    run: Callable[[Path], tuple[float, dict[str, float]]]
    # A tool with a known race (paraffin 0.3.7 can hand one stage to two
    # threads): a failed run is recorded and retried, up to this many times.
    retries: int = 0


def call(cmd: Sequence[object], cwd: Path, log: Path | None = None, **kw: object) -> None:
    """Run ``cmd``; output to ``log`` (kept for a failed run) or discarded."""
    out = log.open("w") if log else subprocess.DEVNULL
    try:
        proc = subprocess.run(
            [str(c) for c in cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, **kw
        )  # type: ignore[call-overload]
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    if proc.returncode:
        where = f"; log: {log}" if log else ""
        raise BenchError(f"{' '.join(map(str, cmd))} exited {proc.returncode} in {cwd}{where}")


def stopwatch(cmd: Sequence[object], cwd: Path, log: Path | None = None, **kw: object) -> float:
    start = time.perf_counter()
    call(cmd, cwd, log, **kw)
    return time.perf_counter() - start


def log_path(root: Path, what: str) -> Path:
    logs = root.parent / "logs"
    logs.mkdir(exist_ok=True)
    return logs / f"{root.name}-{what.replace(' ', '_').replace('/', '_')}.log"


def snakemake_alt(runner: str, opts: Opts, bindir: Path = BIN, label: str = "") -> Alt:
    """The generated Snakefile at ``-j N``: exported first (timed apart), then
    `snakemake` alone is the makespan. ``bindir``: whose `snakemake` runs it
    (and so which Python and plugins a job gets)."""

    def run(root: Path) -> tuple[float, dict[str, float]]:
        export = [PARAFFIN, "export", "snakemake", "-o", SNAKEFILE, "--runner", runner]
        exported = stopwatch(export, root, log_path(root, "export"), env=env_for(opts))
        cmd = [bindir / "snakemake", "-s", SNAKEFILE, "-j", opts.jobs]
        log = log_path(root, f"snakemake-{runner}{label.replace(' ', '-')}")
        secs = stopwatch(cmd, root, log, env=env_for(opts, bindir))
        return secs, {"export_s": exported}

    return Alt(f"snakemake -j {opts.jobs} [{runner}{', ' + label if label else ''}]", run)


def dvc_repro_alt(opts: Opts) -> Alt:
    def run(root: Path) -> tuple[float, dict[str, float]]:
        cmd = [DVC, "repro", "--all-pipelines"]
        return stopwatch(cmd, root, log_path(root, "dvc-repro"), env=env_for(opts)), {}

    return Alt("dvc repro (serial)", run)


def env_for(opts: Opts, bindir: Path = BIN) -> dict[str, str]:
    out = env(bindir)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(SHIM), out.get("PYTHONPATH")) if p)
    out["PARAFFIN_LOCK_LOG"] = str(LOCK_LOG)
    out.update(opts.extra_env)
    return out


def dvc_status(root: Path) -> object:
    proc = subprocess.run(
        [str(DVC), "status", "--json"], cwd=root, env=env(), capture_output=True, text=True
    )
    if proc.returncode:
        raise BenchError(f"dvc status failed in {root}: {proc.stderr.strip()}")
    return json.loads(proc.stdout or "{}")


def read_locks(root: Path) -> dict[str, object]:
    """Every dvc.lock of the project, parsed (stage order in the file follows
    completion order, which legitimately differs between runners)."""
    return {
        str(p.relative_to(root)): yaml.safe_load(p.read_text())
        for p in sorted(root.rglob("dvc.lock"))
        if ".dvc" not in p.relative_to(root).parts
    }


def verify(root: Path, stages: int) -> dict[str, object]:
    """`dvc status` clean and a lock entry for every stage; returns the locks."""
    status = dvc_status(root)
    if status:
        raise BenchError(f"dvc status not clean after the run in {root}: {str(status)[:300]}")
    locks = read_locks(root)
    found = sum(len((lock or {}).get("stages", {})) for lock in locks.values())  # type: ignore[union-attr]
    if found != stages:
        raise BenchError(f"{found} stages in dvc.lock, expected {stages}, in {root}")
    return locks


def fresh_copy(template: Path, name: str) -> Path:
    dest = WORK / "runs" / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, dest, symlinks=True)
    return dest


def compare(
    template: Path, alts: Sequence[Alt], opts: Opts, stages: int
) -> dict[str, dict[str, list]]:
    """Each alternative ``opts.repeat`` times, interleaved (load drift hits all
    alike), each on a fresh copy of ``template``; every run verified, and all
    runs' dvc.lock files equal. Returns key -> {"seconds": [...], extra: [...]}."""
    raw: dict[str, dict[str, list]] = {a.key: {"seconds": [], "lock": []} for a in alts}
    reference: tuple[str, dict[str, object]] | None = None
    for rep in range(opts.repeat):
        for i, alt in enumerate(alts):
            done = _attempts(template, f"{template.name}-{i}", alt, stages, raw)
            if done is None:  # every attempt failed: recorded, no time kept
                continue
            secs, extra, locks = done
            if reference is None:
                reference = (alt.key, locks)
            elif locks != reference[1]:
                where = WORK / "runs" / f"{template.name}-{i}"
                raise BenchError(f"dvc.lock of {alt.key} differs from {reference[0]}'s ({where})")
            raw[alt.key]["seconds"].append(secs)
            for k, v in extra.items():
                raw[alt.key].setdefault(k, []).append(v)
            lock = raw[alt.key]["lock"][-1]
            print(f"    run {rep + 1}/{opts.repeat} {alt.key}: {secs:.2f}s {lock}", flush=True)
    return raw


def _attempts(
    template: Path, name: str, alt: Alt, stages: int, raw: dict[str, dict[str, list]]
) -> tuple[float, dict[str, float], dict[str, object]] | None:
    """One verified run of ``alt``; failures are kept in raw[key]["failures"].
    An alternative without retries aborts the measurement on failure; one
    with retries gives None when all its attempts failed."""
    for attempt in range(alt.retries + 1):
        root = fresh_copy(template, name)
        LOCK_LOG.unlink(missing_ok=True)
        try:
            secs, extra = alt.run(root)
            lock = lockstats.summarize(LOCK_LOG, secs, stages)
            locks = verify(root, stages)
        except BenchError as exc:
            raw[alt.key].setdefault("failures", []).append(str(exc))
            print(f"    FAILED {alt.key} (attempt {attempt + 1}): {exc}", flush=True)
            if not alt.retries:
                raise
            continue
        raw[alt.key]["lock"].append(lock)
        return secs, extra, locks
    raw[alt.key].setdefault("all_attempts_failed", []).append(True)
    return None


def repo_relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (printed, and pasted into RESULTS.md)."""
    cells = [[str(c) for c in r] for r in rows]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(out)


def med(raw: Mapping[str, Mapping[str, list]], key: str, what: str = "seconds") -> float:
    """Median of the successful runs; NaN when there were none."""
    return median(raw[key][what]) if raw[key][what] else float("nan")


def attempts(raw: Mapping[str, Mapping[str, list]], key: str) -> str:
    """'failed / all attempts' of one alternative."""
    failed = len(raw[key].get("failures", []))
    return f"{failed}/{failed + len(raw[key]['seconds'])}"


def lock_median(raw: Mapping[str, Mapping[str, list]], key: str, what: str) -> float | None:
    """Median over the runs of one lockstats number (None when never seen)."""
    values = [run[what] for run in raw[key]["lock"] if run.get(what) is not None]
    return median(values) if values else None


BREAKDOWN = (
    ("startup_median_s", "DVC start-up"),
    ("wait_before_median_s", "lock wait before"),
    ("held_before_median_s", "lock held before"),
    ("command_median_s", "command"),
    ("wait_after_median_s", "lock wait after"),
    ("held_after_median_s", "lock held after"),
)


def breakdown(raw: Mapping[str, Mapping[str, list]]) -> str:
    """Where a job's time goes (medians over jobs, then over runs; lockstats.py),
    for alternatives that start one DVC process per stage; plus the share of
    the wall time some process held DVC's lock."""
    rows = []
    for key in raw:
        values = [lock_median(raw, key, what) for what, _ in BREAKDOWN]
        busy = lock_median(raw, key, "lock_busy_share")
        serial = serial_hold(raw, key)
        if all(v is None for v in values) and serial is None:
            continue
        cells = ["" if v is None else f"{v:.2f}" for v in values]
        if serial is not None:
            cells[2] = f"{serial:.2f} (per stage, one process)"
        rows.append([key, *cells, "" if busy is None else f"{busy:.0%}"])
    headers = ["per job, median s", *(label for _, label in BREAKDOWN), "lock busy"]
    return table(headers, rows)


def serial_hold(raw: Mapping[str, Mapping[str, list]], key: str) -> float | None:
    """Per-stage hold of a one-process (serial) run; None for runs with jobs
    (JSON written before lockstats told reused pids apart may carry one)."""
    if lock_median(raw, key, "job_processes"):
        return None
    return lock_median(raw, key, "serial_held_per_stage_s")
