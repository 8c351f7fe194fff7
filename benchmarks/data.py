"""Measurement 6 (issue 18): data-heavy stages. 4 independent stages, each
writes one large file, `-j 4`, against the coreutils floor in the same run.

- paraffin: the generated Snakefile (exported apart, not timed), then, on the
  finished project, its no-op rerun: the run's own fixed start-up. Reported:
  (run - no-op) / floor, the issue's ratio.
- `dvc repro`: serial.
- floor: the same 4 jobs done by coreutils in parallel, no DVC, no Snakemake:
  write the file, `md5sum` it, `cp` it into a cache dir.

Every DVC run is verified: `dvc status` clean, dvc.lock equal across the
alternatives, and the cache (object names, sizes, modes) and run cache equal
to `dvc repro`'s. Each run's project is deleted after it (the files are big).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from common import WORK, make_project, median, save
from harness import (
    DVC,
    PARAFFIN,
    SNAKEFILE,
    SNAKEMAKE,
    BenchError,
    Opts,
    env_for,
    fresh_copy,
    log_path,
    stopwatch,
    table,
    verify,
)

STAGES = 4


def write_cmd(i: int, size: int) -> str:
    """Deterministic bytes (the runs' dvc.lock files must be equal)."""
    return f"mkdir -p data && yes {i} | head -c {size} > data/big{i}"


def dvc_yaml(size: int) -> str:
    lines = ["stages:"]
    for i in range(STAGES):
        lines += [f"  big{i}:", f"    cmd: {write_cmd(i, size)}", f"    outs: [data/big{i}]"]
    return "\n".join(lines) + "\n"


def floor(size: int) -> float:
    """The 4 jobs as plain coreutils, in parallel."""
    root = WORK / "runs" / "data-floor"
    shutil.rmtree(root, ignore_errors=True)
    (root / "cache").mkdir(parents=True)
    jobs = [
        f"{write_cmd(i, size)} && md5sum data/big{i} > /dev/null && cp data/big{i} cache/big{i}"
        for i in range(STAGES)
    ]
    start = time.perf_counter()
    procs = [subprocess.Popen(["sh", "-c", job], cwd=root) for job in jobs]
    codes = [p.wait() for p in procs]
    secs = time.perf_counter() - start
    shutil.rmtree(root, ignore_errors=True)
    if any(codes):
        raise BenchError(f"the coreutils floor failed: exit codes {codes}")
    return secs


def cache_listing(root: Path) -> dict[str, tuple[int, int]]:
    """Cache objects and run-cache entries: relative path -> (size, mode)."""
    cache = root / ".dvc" / "cache"
    return {
        p.relative_to(cache).as_posix(): (p.stat().st_size, p.stat().st_mode & 0o777)
        for p in sorted(cache.rglob("*"))
        if p.is_file()
    }


def paraffin_run(root: Path, opts: Opts, jobs: int, threads: str | None) -> dict[str, float]:
    """``threads``: PARAFFIN_HASH_THREADS ("0": DVC hashes and copies in the
    coordinator thread, as before issue 18; None: the default)."""
    env = env_for(opts)
    if threads is not None:
        env["PARAFFIN_HASH_THREADS"] = threads
    export = [PARAFFIN, "export", "snakemake", "-o", SNAKEFILE]
    stopwatch(export, root, log_path(root, "export"), env=env)
    cmd = [SNAKEMAKE, "-s", SNAKEFILE, "-j", jobs]
    run_s = stopwatch(cmd, root, log_path(root, "snakemake"), env=env)
    noop_log = log_path(root, "snakemake-noop")
    noop_s = stopwatch(cmd, root, noop_log, env=env)
    if f"DVC reports 0 of {STAGES} stages" not in noop_log.read_text():
        raise BenchError(f"the no-op rerun planned jobs: {noop_log}")
    return {"seconds": run_s, "noop_s": noop_s}


PARAFFIN_ALTS = {"paraffin": None, "paraffin, serial hashing (before)": "0"}


def measure(opts: Opts) -> dict[str, object]:
    size = 5_000_000 if opts.quick else 600_000_000
    jobs = STAGES
    print(f"== data: {STAGES} stages x {size / 1e6:.0f} MB, -j {jobs}", flush=True)
    template = make_project("data-template", dvc_yaml(size))
    raw: dict[str, list[float]] = {"floor": [], "dvc repro": []}
    for key in PARAFFIN_ALTS:
        raw |= {key: [], f"{key} no-op": []}
    for rep in range(opts.repeat):
        raw["floor"].append(floor(size))
        root = fresh_copy(template, "data-dvc")
        cmd = [DVC, "repro", "--all-pipelines"]
        log = log_path(root, "dvc-repro")
        raw["dvc repro"].append(stopwatch(cmd, root, log, env=env_for(opts)))
        expected = verify(root, STAGES), cache_listing(root)
        shutil.rmtree(root)
        for key, threads in PARAFFIN_ALTS.items():
            root = fresh_copy(template, "data-paraffin")
            got = paraffin_run(root, opts, jobs, threads)
            if (verify(root, STAGES), cache_listing(root)) != expected:
                raise BenchError(f"dvc.lock or the cache of {key} differ from dvc repro's ({root})")
            shutil.rmtree(root)
            raw[key].append(got["seconds"])
            raw[f"{key} no-op"].append(got["noop_s"])
        print(
            f"    run {rep + 1}/{opts.repeat}: "
            + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in raw.items()),
            flush=True,
        )
    return report(raw, size, jobs, opts)


def report(raw: dict[str, list[float]], size: int, jobs: int, opts: Opts) -> dict[str, object]:
    med = {k: median(v) for k, v in raw.items()}
    ratios = {
        key: [
            (p - n) / f for p, n, f in zip(raw[key], raw[f"{key} no-op"], raw["floor"], strict=True)
        ]
        for key in PARAFFIN_ALTS
    }
    rows = [["coreutils floor (write, md5sum, cp; parallel)", f"{med['floor']:.2f}", "1.00x"]]
    for key in PARAFFIN_ALTS:
        rows += [
            [f"snakemake -j {jobs} [{key}]", f"{med[key]:.2f}", f"{med[key] / med['floor']:.2f}x"],
            ["  its no-op rerun (start-up)", f"{med[key + ' no-op']:.2f}", ""],
            ["  run - no-op, vs floor (per run, median)", "", f"{median(ratios[key]):.2f}x"],
        ]
    serial = med["dvc repro"] / med["floor"]
    rows.append(["dvc repro (serial)", f"{med['dvc repro']:.2f}", f"{serial:.2f}x"])
    text = table(["alternative", "median s", "vs floor"], rows)
    print(text, flush=True)
    payload = {
        "stages": STAGES,
        "bytes_per_stage": size,
        "jobs": jobs,
        "repeat": opts.repeat,
        "runs": raw,
        "ratios": ratios,
        "medians": med,
        "table": text,
    }
    save("data", payload)
    return payload
