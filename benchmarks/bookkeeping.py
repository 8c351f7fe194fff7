"""Measurement 5 (issue 18, goal 3): tiny-stage bookkeeping against
Snakemake's own floor.

400 tiny stages (`echo`) and a join in ONE dvc.yaml, `-j 8`:

- first run: the generated Snakefile (`paraffin` runner) on a fresh project,
  against the same 401 rules as a hand-written Snakefile with no DVC;
- rerun after every stage's `cmd` changed (each writes other bytes, so the
  join runs again too): the generated Snakefile after a re-export (timed
  apart), against the hand-written Snakefile's `-F` rerun of all 401 rules.

The hand-written Snakefile runs twice: as written (Snakemake's floor as the
issue measured it) and with the exit fixes the generated Snakefile has
(`plain_snakemake.EXIT_FIXES`: a stricter floor). Every paraffin run is
verified (`dvc status` clean, 401 `dvc.lock` entries), and unless
`--skip dvc-repro`, its `dvc.lock` after each run is byte-equal to a
`dvc repro` twin's (run once, not timed: 401 serial DVC stages are slow).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from common import make_project, median, save, wide_yaml
from harness import (
    DVC,
    PARAFFIN,
    SNAKEFILE,
    SNAKEMAKE,
    WORK,
    BenchError,
    Opts,
    call,
    env_for,
    log_path,
    stopwatch,
    table,
    verify,
)
from plain_snakemake import EXIT_FIXES

PLAIN = ("plain Snakefile", "plain Snakefile + exit fixes")


def plain_snakefile(n: int, fixes: bool) -> str:
    """The project's 401 rules by hand (the same shell commands), no DVC."""
    rules = ["rule all:\n    input: 'joined'\n    default_target: True\n"]
    for i in range(n):
        cmd = f"mkdir -p out && echo {i} > out/w{i}"
        rules.append(f"rule w{i}:\n    output: 'out/w{i}'\n    shell: {cmd!r}\n")
    inputs = ", ".join(f"'out/w{i}'" for i in range(n))
    join = "rule join:\n    input: [{}]\n    output: 'joined'\n    shell: 'cat out/w* > joined'\n"
    rules.append(join.format(inputs))
    return "\n".join(rules) + (EXIT_FIXES if fixes else "")


def change_every_cmd(root: Path) -> None:
    """Every stage writes other bytes: its cmd changed, the join's deps too."""
    text = (root / "dvc.yaml").read_text()
    changed = re.sub(r"echo (\d+) >", r"echo \1 v2 >", text)
    (root / "dvc.yaml").write_text(changed)


# A checkout of paraffin_export to compare with in the same invocation (e.g.
# `git archive arch paraffin_export templates | tar -x -C DIR`): put first on
# PYTHONPATH; it runs second in even repetitions and first in odd ones
BEFORE = os.environ.get("PARAFFIN_BENCH_BEFORE", "")


def paraffin_runs(
    template: Path, opts: Opts, n: int, before: str = ""
) -> tuple[float, float, list[bytes]]:
    """First run and rerun of the generated Snakefile; the dvc.lock after each.
    ``before``: a folder holding another paraffin_export, imported instead."""
    root = _fresh(template, "before" if before else "paraffin")
    env = env_for(opts)
    if before:
        env["PYTHONPATH"] = os.pathsep.join([before, env.get("PYTHONPATH", "")])
    export = [PARAFFIN, "export", "snakemake", "-o", SNAKEFILE, "--runner", "paraffin"]
    run = [SNAKEMAKE, "-s", SNAKEFILE, "-j", opts.jobs]
    times, locks = [], []
    for what in ("first", "rerun"):
        if what == "rerun":
            change_every_cmd(root)
        call(export, root, log_path(root, f"export-{what}"), env=env)
        times.append(stopwatch(run, root, log_path(root, f"snakemake-{what}"), env=env))
        verify(root, n + 1)
        locks.append((root / "dvc.lock").read_bytes())
    return times[0], times[1], locks


def plain_runs(n: int, opts: Opts, fixes: bool) -> tuple[float, float]:
    root = WORK / "runs" / f"book-plain{int(fixes)}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "Snakefile").write_text(plain_snakefile(n, fixes))
    run = [SNAKEMAKE, "-j", opts.jobs]
    first = stopwatch(run, root, log_path(root, "first"), env=env_for(opts))
    again = stopwatch([*run, "-F"], root, log_path(root, "rerun-F"), env=env_for(opts))
    return first, again


def twin_locks(template: Path, opts: Opts, n: int) -> list[bytes]:
    """`dvc repro` on the same two steps: the dvc.lock bytes to equal."""
    root = _fresh(template, "dvc-repro")
    locks = []
    for what in ("first", "rerun"):
        if what == "rerun":
            change_every_cmd(root)
        call([DVC, "repro"], root, log_path(root, f"dvc-repro-{what}"), env=env_for(opts))
        verify(root, n + 1)
        locks.append((root / "dvc.lock").read_bytes())
    return locks


def _fresh(template: Path, name: str) -> Path:
    dest = WORK / "runs" / f"{template.name}-{name}"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(template, dest, symlinks=True)
    return dest


def measure(opts: Opts) -> dict[str, object]:
    n = 20 if opts.quick else 400
    template = make_project(f"book{n}", wide_yaml(n))
    print(f"== bookkeeping: {n} tiny stages + a join, one dvc.yaml, -j {opts.jobs}", flush=True)
    raw: dict[str, list[float]] = {}
    twin = None if "dvc-repro" in opts.skip else twin_locks(template, opts, n)
    for rep in range(opts.repeat):
        got = {}
        # the build measured first in a repetition ran 0.15-0.5 s slower
        # (RESULTS.md, "Session 9"): with BEFORE, the two take turns
        if BEFORE and rep % 2:
            got["before first"], got["before rerun"], _ = paraffin_runs(template, opts, n, BEFORE)
        first, rerun, locks = paraffin_runs(template, opts, n)
        if twin is not None and locks != twin:
            raise BenchError(f"dvc.lock differs from the dvc repro twin's ({WORK / 'runs'})")
        got |= {"paraffin first": first, "paraffin rerun": rerun}
        if BEFORE and not rep % 2:
            got["before first"], got["before rerun"], _ = paraffin_runs(template, opts, n, BEFORE)
        for fixes, label in enumerate(PLAIN):
            got[f"{label} first"], got[f"{label} rerun"] = plain_runs(n, opts, bool(fixes))
        for key, secs in got.items():
            raw.setdefault(key, []).append(secs)
        print(
            f"    run {rep + 1}/{opts.repeat}: "
            + ", ".join(f"{k} {v:.2f}s" for k, v in got.items())
        )
    ours = ["paraffin", *(["before"] if BEFORE else [])]
    heads = [f"{o} s" for o in ours] + [f"{p} s" for p in PLAIN]
    heads += [f"{o} vs {p}" for o in ours for p in PLAIN]
    text = table(["run", *heads], [_row(raw, what, ours) for what in ("first", "rerun")])
    commands = (
        f"paraffin: `snakemake -s {SNAKEFILE} -j {opts.jobs}` (exported by `paraffin export "
        "snakemake --runner paraffin`, timed apart); rerun after every cmd changed. "
        f"Plain: `snakemake -j {opts.jobs}`, then `snakemake -j {opts.jobs} -F`."
    )
    print(text, commands, sep="\n", flush=True)
    twin_note = "skipped" if twin is None else "dvc.lock byte-equal after both runs"
    payload = {"stages": n, "repeat": opts.repeat, "runs": raw, "table": text}
    save("bookkeeping", {**payload, "commands": commands, "dvc_repro_twin": twin_note})
    return raw


def _row(raw: dict[str, list[float]], what: str, ours: list[str]) -> list[str]:
    mine = [median(raw[f"{o} {what}"]) for o in ours]
    floors = [median(raw[f"{p} {what}"]) for p in PLAIN]
    label = "first run" if what == "first" else "rerun, every cmd changed (plain: -F)"
    ratios = [f"{m / f:.2f}x" for m in mine for f in floors]
    return [label, *(f"{s:.2f}" for s in mine + floors), *ratios]
