"""Measurement 5: the bookkeeping bottleneck. 500 tiny independent stages
(`echo`) in ONE dvc.yaml vs the same stages split over 10 dvc.yaml files (one
folder each), the generated Snakefile at -j 8 vs serial `dvc repro`.

DVC rewrites the whole dvc.lock under its repo lock after every stage, so the
lock, not the CPU count, bounds a parallel run. How long each stage holds the
lock is measured from DVC's side by lockshim/sitecustomize.py (see
lockstats.py for what each number means): it wraps `dvc.lock.Lock.lock` and
`.unlock` in the benchmark's processes only, logging a timestamp per event.
"""

from __future__ import annotations

from common import make_project, save
from harness import (
    Alt,
    Opts,
    breakdown,
    compare,
    dvc_repro_alt,
    lock_median,
    med,
    serial_hold,
    snakemake_alt,
    table,
)

FILES = 10


def stage_lines(names: range, prefix: str = "") -> list[str]:
    lines = ["stages:"]
    for i in names:
        lines += [f"  t{i}:", f"    cmd: echo {i} > {prefix}t{i}", f"    outs: [{prefix}t{i}]"]
    return lines


def one_file(n: int) -> str:
    return "\n".join(stage_lines(range(n), "out_")) + "\n"


def split_files(n: int) -> dict[str, str]:
    per = n // FILES
    return {
        f"p{f}/dvc.yaml": "\n".join(stage_lines(range(f * per, (f + 1) * per), "out_")) + "\n"
        for f in range(FILES)
    }


def fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def rows_for(label: str, raw: dict, alts: list[Alt]) -> list[list[str]]:
    serial = med(raw, alts[-1].key)
    rows = []
    for a in alts:
        held = serial_hold(raw, a.key)
        if held is None:
            before = lock_median(raw, a.key, "held_before_median_s") or 0.0
            after = lock_median(raw, a.key, "held_after_median_s") or 0.0
            held = before + after
        wait = [lock_median(raw, a.key, f"wait_{w}_median_s") for w in ("before", "after")]
        rows.append(
            [
                label,
                a.key,
                f"{med(raw, a.key):.1f}",
                f"{med(raw, a.key) / serial:.2f}x",
                f"{held:.3f}",
                fmt(sum(w for w in wait if w is not None) if any(wait) else None),
                fmt(lock_median(raw, a.key, "startup_median_s")),
                fmt(lock_median(raw, a.key, "lock_busy_share")),
            ]
        )
    return rows


def measure(opts: Opts) -> dict[str, object]:
    n = 10 if opts.quick else 500
    alts = [snakemake_alt(r, opts) for r in opts.runners] + [dvc_repro_alt(opts)]
    projects = {
        f"one dvc.yaml, {n} stages": make_project(f"book-one{n}", one_file(n)),
        f"{FILES} dvc.yaml files x {n // FILES}": make_project(
            f"book-split{n}", "stages: {}\n", split_files(n)
        ),
    }
    raws, rows = {}, []
    for label, template in projects.items():
        print(f"== bookkeeping: {label}, -j {opts.jobs}", flush=True)
        raws[label] = compare(template, alts, opts, n)
        rows += rows_for(label, raws[label], alts)
    text = table(
        [
            "project",
            "alternative",
            "median s",
            "vs serial",
            "lock held / stage s",
            "lock wait / stage s",
            "DVC start-up / job s",
            "lock busy share",
        ],
        rows,
    )
    wheres = {label: breakdown(raw) for label, raw in raws.items()}
    print(text, *(f"\n{label}:\n{w}" for label, w in wheres.items()), sep="\n", flush=True)
    payload = {"stages": n, "repeat": opts.repeat, "runs": raws, "table": text}
    save("bookkeeping", {**payload, "breakdown_tables": wheres})
    return raws
