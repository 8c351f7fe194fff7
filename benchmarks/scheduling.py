"""Measurements 1 (wide) and 2 (diamonds/tree): makespan of the generated
Snakefile at -j 8 vs serial `dvc repro` vs paraffin 0.3.7 vs the ideal.

Every stage is `sleep D` and writes its name to out/NAME; a stage reads the
outputs of the stages it depends on. Ideal (the issue's definition): total
work / jobs + critical path, from the sleep durations alone (no tool costs).
Level bound: what a level-by-level scheduler could do at best, the sum over
DAG levels of max(longest stage, level work / jobs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from common import make_project, save
from harness import (
    Alt,
    Opts,
    attempts,
    breakdown,
    compare,
    dvc_repro_alt,
    med,
    snakemake_alt,
    table,
)
from minimal_venv import minimal_alt
from paraffin037 import paraffin037_alt


@dataclass(frozen=True)
class Dag:
    name: str
    duration: Mapping[str, float]  # stage -> seconds of sleep, in topological order
    after: Mapping[str, Sequence[str]]  # stage -> the stages it reads

    def yaml(self) -> str:
        lines = ["stages:"]
        for st, dur in self.duration.items():
            lines += [f"  {st}:", f"    cmd: mkdir -p out && sleep {dur:g} && echo {st} > out/{st}"]
            lines.append(f"    outs: [out/{st}]")
            if self.after.get(st):
                lines.append("    deps: [" + ", ".join(f"out/{u}" for u in self.after[st]) + "]")
        return "\n".join(lines) + "\n"

    def finish(self) -> dict[str, float]:
        """Earliest finish of each stage with unlimited workers."""
        done: dict[str, float] = {}
        for st, dur in self.duration.items():
            done[st] = max((done[u] for u in self.after.get(st, ())), default=0.0) + dur
        return done

    def ideal(self, jobs: int) -> float:
        return sum(self.duration.values()) / jobs + max(self.finish().values())

    def lower_bound(self, jobs: int) -> float:
        return max(sum(self.duration.values()) / jobs, max(self.finish().values()))

    def level_bound(self, jobs: int) -> float:
        level: dict[str, int] = {}
        for st in self.duration:
            level[st] = max((level[u] + 1 for u in self.after.get(st, ())), default=0)
        total = 0.0
        for lv in set(level.values()):
            durs = [self.duration[s] for s in self.duration if level[s] == lv]
            total += max(max(durs), sum(durs) / jobs)
        return total


def wide_dag(n: int, seconds: float) -> Dag:
    duration = {f"w{i}": seconds for i in range(n)}
    duration["join"] = 0.0
    return Dag(f"wide{n}", duration, {"join": [f"w{i}" for i in range(n)]})


# Per diamond: split -> (left, right) -> merge, durations picked so that every
# branch has the same critical path but its long stage sits on a different
# level: true-DAG scheduling overlaps them, level-by-level cannot.
DIAMONDS = ((3, 0.5, 0.5, 0.5), (0.5, 3, 0.5, 0.5), (0.5, 0.5, 0.5, 3), (1, 1, 2, 1))


def tree_dag(copies: int, scale: float, diamonds: int = len(DIAMONDS)) -> Dag:
    duration: dict[str, float] = {"src": 0.5 * scale}
    after: dict[str, list[str]] = {}
    merges = []
    for c in range(copies):
        for d, (split, left, right, merge) in enumerate(DIAMONDS[:diamonds]):
            p = f"d{c}{d}"
            duration.update({f"{p}split": split * scale, f"{p}left": left * scale})
            duration.update({f"{p}right": right * scale, f"{p}merge": merge * scale})
            after.update({f"{p}split": ["src"], f"{p}left": [f"{p}split"]})
            after.update({f"{p}right": [f"{p}split"], f"{p}merge": [f"{p}left", f"{p}right"]})
            merges.append(f"{p}merge")
    duration["join"] = 0.5 * scale
    after["join"] = merges
    return Dag(f"tree{copies}", duration, after)


def alternatives(opts: Opts) -> list[Alt]:
    alts = [snakemake_alt(r, opts) for r in opts.runners]
    if "paraffin" in opts.runners and "minimal" not in opts.skip:
        alts.append(minimal_alt(opts))
    if "dvc-repro" not in opts.skip:
        alts.append(dvc_repro_alt(opts))
    if "paraffin037" not in opts.skip:
        alts.append(paraffin037_alt(opts))
    return alts


def measure(name: str, dag: Dag, opts: Opts) -> dict[str, object]:
    print(f"== {name}: {dag.name}, {len(dag.duration)} stages, -j {opts.jobs}", flush=True)
    template = make_project(f"{name}-template", dag.yaml())
    alts = alternatives(opts)
    raw = compare(template, alts, opts, len(dag.duration))
    ideal, level = dag.ideal(opts.jobs), dag.level_bound(opts.jobs)
    lower = dag.lower_bound(opts.jobs)
    base = {a.key: med(raw, a.key) for a in alts}
    rows = [["ideal (work / jobs + critical path)", f"{ideal:.2f}", "1.00x", "", ""]]
    rows.append(["lower bound, any DAG scheduler", f"{lower:.2f}", f"{lower / ideal:.2f}x", "", ""])
    rows.append(["lower bound, level by level", f"{level:.2f}", f"{level / ideal:.2f}x", "", ""])
    for a in alts:
        failed = attempts(raw, a.key)
        if math.isnan(base[a.key]):
            rows.append([a.key, "every run failed", "", "", failed])
            continue
        vs = [
            f"{base[a.key] / base[k]:.2f}x {short(k)}"
            for k in base
            if k != a.key and not math.isnan(base[k])
        ]
        rows.append(
            [a.key, f"{base[a.key]:.2f}", f"{base[a.key] / ideal:.2f}x", "; ".join(vs), failed]
        )
    text = table(["alternative", "median s", "vs ideal", "vs others", "failed / attempts"], rows)
    where = breakdown(raw)
    print(text + "\n\n" + where, flush=True)
    payload = {
        "stages": len(dag.duration),
        "jobs": opts.jobs,
        "repeat": opts.repeat,
        "work_s": sum(dag.duration.values()),
        "critical_path_s": max(dag.finish().values()),
        "ideal_s": ideal,
        "lower_bound_s": lower,
        "level_bound_s": level,
        "runs": raw,
        "medians": {k: (None if math.isnan(v) else v) for k, v in base.items()},
        "table": text,
        "breakdown_table": where,
    }
    save(name, payload)
    return payload


def short(key: str) -> str:
    """'snakemake -j 8 [dvc]' -> 'snakemake[dvc]', 'dvc repro (serial)' -> 'dvc repro'."""
    if key.startswith("snakemake"):
        return "snakemake" + key[key.index("[") :]
    return "paraffin 0.3.7" if key.startswith("paraffin") else key.split(" (")[0]


def wide(opts: Opts) -> dict[str, object]:
    return measure("wide", wide_dag(4, 0.2) if opts.quick else wide_dag(64, 1.0), opts)


def tree(opts: Opts) -> dict[str, object]:
    return measure("tree", tree_dag(1, 0.2, 2) if opts.quick else tree_dag(2, 1.0), opts)
