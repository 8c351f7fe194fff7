"""Measurement 3: no-op rerun of an up-to-date 1,000-stage project.

The project is a 4-ary tree of tiny stages (stage i reads stage (i-1)//4), in
one dvc.yaml. It is made up to date without running 1,000 DVC processes: the
outputs are written directly, then one `dvc commit -f` records them all (one
dvc.lock write); `dvc status` must then be clean. Every alternative then runs
on that same repo and must leave it exactly as it was: dvc.lock byte-equal,
no output rewritten (mtimes), `dvc status` clean.
"""

from __future__ import annotations

import math
import subprocess
import time
from pathlib import Path

from common import make_project, save
from harness import (
    DVC,
    PARAFFIN,
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


# `paraffin run` re-exports on every run; when one export alone takes longer
# than this, it is timed once and reported, not repeated (see measure()).
SLOW_EXPORT_S = 60.0


def snakefile(runner: str) -> str:
    return f".paraffin/Snakefile-{runner}"


def alternatives(opts: Opts, exported: dict[str, float]) -> dict[str, list[object]]:
    alts: dict[str, list[object]] = {}
    for r in opts.runners:
        cmd = [SNAKEMAKE, "-s", snakefile(r), "-j", opts.jobs]
        alts[f"snakemake -j {opts.jobs} [{r}]"] = cmd
        if exported[r] < SLOW_EXPORT_S:
            run = [PARAFFIN, "run", "-j", opts.jobs, "--runner", r]
            alts[f"paraffin run -j {opts.jobs} [{r}] (export + snakemake)"] = run
    alts["dvc status"] = [DVC, "status"]
    alts["paraffin stale"] = [PARAFFIN, "stale"]
    for r in opts.runners[-1:]:  # an export of the unchanged project (same bytes again)
        export = [PARAFFIN, "export", "snakemake", "-o", snakefile(r), "--runner", r]
        alts[f"paraffin export snakemake [{r}] (unchanged project)"] = export
    alts["plain Snakefile, same rules, no DVC (Snakemake's floor)"] = [
        SNAKEMAKE,
        "-s",
        PLAIN,
        "-j",
        opts.jobs,
    ]
    alts["dvc repro"] = [DVC, "repro", "--all-pipelines"]
    return alts


PLAIN = ".paraffin/Plain.smk"


def plain_snakefile(n: int) -> str:
    """The project's rules by hand, no DVC: Snakemake's own no-op (the
    outputs exist, written in dependency order: nothing to do)."""
    rules = ["rule all:\n    input: " + repr([f"out/s{i}" for i in range(n)]) + "\n"]
    for i in range(n):
        dep = f"    input: 'out/s{(i - 1) // 4}'\n" if i else ""
        rules.append(
            f"rule s{i}:\n{dep}    output: 'out/s{i}'\n    shell: 'echo {i} > {{output}}'\n"
        )
    return "\n".join(rules)


def export(root: Path, runner: str, opts: Opts) -> float:
    """Write the Snakefile before the timed runs; returns the export's seconds,
    or inf when it was stopped after SLOW_EXPORT_S. The Snakefile does not
    depend on dvc.lock, so then it is written with dvc.lock set aside (and put
    back byte for byte; every run checks that)."""
    cmd = [PARAFFIN, "export", "snakemake", "-o", snakefile(runner), "--runner", runner]
    log = log_path(root, f"export-{runner}")
    try:
        secs = stopwatch(cmd, root, log, env=env_for(opts), timeout=SLOW_EXPORT_S)
    except subprocess.TimeoutExpired:
        secs = math.inf
        aside = root / "dvc.lock.bench-aside"
        (root / "dvc.lock").rename(aside)
        try:
            call(cmd, root, log, env=env_for(opts))
        finally:
            aside.rename(root / "dvc.lock")
    shown = f"{secs:.1f}s" if secs < SLOW_EXPORT_S else f"> {SLOW_EXPORT_S:.0f}s, stopped"
    print(f"  paraffin export snakemake --runner {runner}: {shown} (once)", flush=True)
    return secs


def measure(opts: Opts) -> dict[str, object]:
    n = 20 if opts.quick else 1000
    print(f"== noop: {n} up-to-date stages", flush=True)
    root = build(n, opts)
    (root / PLAIN).parent.mkdir(exist_ok=True)
    (root / PLAIN).write_text(plain_snakefile(n))
    before = snapshot(root)
    exported = {r: export(root, r, opts) for r in opts.runners}
    alts = alternatives(opts, exported)
    raw: dict[str, dict[str, list[float]]] = {k: {"seconds": []} for k in alts}
    for rep in range(opts.repeat):
        for key, cmd in alts.items():
            log = log_path(root, key.split(" (")[0])
            secs = stopwatch(cmd, root, log, env=env_for(opts))
            if snapshot(root) != before:
                raise BenchError(f"{key} changed dvc.lock or an output in {root} (a no-op?)")
            planned = key.startswith(("snakemake", "paraffin run"))
            if planned and f"DVC reports 0 of {n} stages" not in log.read_text():
                raise BenchError(f"{key} planned jobs on an up-to-date project: {log}")
            raw[key]["seconds"].append(secs)
            print(f"    run {rep + 1}/{opts.repeat} {key}: {secs:.2f}s", flush=True)
    if dvc_status(root):
        raise BenchError(f"dvc status not clean after the no-op runs in {root}")
    status = med(raw, "dvc status")
    rows = [[k, f"{med(raw, k):.2f}", f"{med(raw, k) / status:.2f}x"] for k in alts]
    for r, secs in exported.items():
        if secs < SLOW_EXPORT_S:
            rows.append([f"paraffin export snakemake [{r}] (once)", f"{secs:.2f}", ""])
            continue
        what = f"paraffin export snakemake [{r}] (stopped; `paraffin run` not measured)"
        rows.append([what, f"> {SLOW_EXPORT_S:.0f}", ""])
    text = table(["alternative", "median s", "vs dvc status"], rows)
    print(text, flush=True)
    medians = {k: med(raw, k) for k in alts}
    payload = {"stages": n, "repeat": opts.repeat, "runs": raw, "medians": medians}
    exports = {r: (None if math.isinf(v) else v) for r, v in exported.items()}
    save("noop", {**payload, "export_once_s": exports, "table": text})
    return raw
