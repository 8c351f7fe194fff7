"""Measurement 3: no-op rerun of an up-to-date 1,000-stage project.

The project is a 4-ary tree of tiny stages (stage i reads stage (i-1)//4), in
one dvc.yaml. It is made up to date without running 1,000 DVC processes: the
outputs are written directly, then one `dvc commit -f` records them all (one
dvc.lock write); `dvc status` must then be clean. Every alternative then runs
on that same repo and must leave it exactly as it was: dvc.lock byte-equal,
no output rewritten (mtimes), `dvc status` clean.
"""

from __future__ import annotations

import time
from pathlib import Path

from common import make_project, save
from harness import (
    DVC,
    PARAFFIN,
    SNAKEFILE,
    SNAKEMAKE,
    BenchError,
    Opts,
    call,
    dvc_status,
    env_for,
    log_path,
    med,
    stopwatch,
    table,
)


def tree_yaml(n: int) -> str:
    lines = ["stages:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    cmd: mkdir -p out && echo {i} > out/s{i}"]
        lines.append(f"    outs: [out/s{i}]")
        if i:
            lines.append(f"    deps: [out/s{(i - 1) // 4}]")
    return "\n".join(lines) + "\n"


def build(n: int, opts: Opts) -> Path:
    root = make_project(f"noop{n}", tree_yaml(n))
    (root / "out").mkdir()
    for i in range(n):
        (root / "out" / f"s{i}").write_text(f"{i}\n")
    start = time.perf_counter()
    call([DVC, "commit", "-f", "-q"], root, log_path(root, "commit"), env=env_for(opts))
    call(["git", "add", "-A"], root)
    call(["git", "commit", "-qm", "up to date"], root)
    print(f"  built {n} stages up to date in {time.perf_counter() - start:.1f}s", flush=True)
    if dvc_status(root):
        raise BenchError(f"{root} is not up to date after dvc commit")
    return root


def snapshot(root: Path) -> tuple[bytes, dict[str, int]]:
    outs = {p.name: p.stat().st_mtime_ns for p in (root / "out").iterdir()}
    return (root / "dvc.lock").read_bytes(), outs


def alternatives(opts: Opts) -> dict[str, list[object]]:
    alts: dict[str, list[object]] = {}
    for r in opts.runners:
        alts[f"snakemake -j {opts.jobs} [{r}]"] = [SNAKEMAKE, "-s", SNAKEFILE, "-j", opts.jobs]
        alts[f"paraffin run -j {opts.jobs} [{r}] (export + snakemake)"] = [
            PARAFFIN,
            *("run", "-j", opts.jobs, "--runner", r),
        ]
    alts["dvc status"] = [DVC, "status"]
    alts["dvc repro"] = [DVC, "repro", "--all-pipelines"]
    return alts


def measure(opts: Opts) -> dict[str, object]:
    n = 20 if opts.quick else 1000
    print(f"== noop: {n} up-to-date stages", flush=True)
    root = build(n, opts)
    before = snapshot(root)
    alts = alternatives(opts)
    raw: dict[str, dict[str, list[float]]] = {k: {"seconds": []} for k in alts}
    for rep in range(opts.repeat):
        for key, cmd in alts.items():
            if key.startswith("snakemake"):  # the Snakefile exists before the timed run
                runner = key[key.index("[") + 1 : -1]
                export = [PARAFFIN, "export", "snakemake", "-o", SNAKEFILE, "--runner", runner]
                secs = stopwatch(export, root, log_path(root, "export"), env=env_for(opts))
                raw[key].setdefault("export_s", []).append(secs)
            log = log_path(root, key.split(" (")[0])
            secs = stopwatch(cmd, root, log, env=env_for(opts))
            if snapshot(root) != before:
                raise BenchError(f"{key} changed dvc.lock or an output in {root} (a no-op?)")
            if "snakemake" in key and f"DVC reports 0 of {n} stages" not in log.read_text():
                raise BenchError(f"{key} planned jobs on an up-to-date project: {log}")
            raw[key]["seconds"].append(secs)
            print(f"    run {rep + 1}/{opts.repeat} {key}: {secs:.2f}s", flush=True)
    if dvc_status(root):
        raise BenchError(f"dvc status not clean after the no-op runs in {root}")
    status = med(raw, "dvc status")
    rows = [[k, f"{med(raw, k):.2f}", f"{med(raw, k) / status:.2f}x"] for k in alts]
    text = table(["alternative", "median s", "vs dvc status"], rows)
    print(text, flush=True)
    medians = {k: med(raw, k) for k in alts}
    save(
        "noop", {"stages": n, "repeat": opts.repeat, "runs": raw, "medians": medians, "table": text}
    )
    return raw
