"""Measurement 3: no-op and status of an up-to-date project (issue 18, goal 2).

    .venv/bin/python benchmarks/run.py --only noop [--repeat 3] [--sizes 1000,5000,20000]
        [--runner paraffin] [--skip dvc-repro]

The project (`noop_project.py`): N stages in N/100 `dvc.yaml` files of 100,
all up to date. At the first size (default 1,000) every alternative runs, in
one invocation, interleaved: the generated Snakefile's no-op (`snakemake -j 8`
per `--runner`), `paraffin run`, `paraffin stale`, a re-export of the
unchanged project, `dvc status`, `dvc repro` and the same rules as a
hand-written Snakefile with no DVC (Snakemake's own floor). At the further
sizes (the growth check) only `paraffin stale`, the re-export and, once,
`dvc status`; the "per 1k stages" table is the marginal cost between sizes
(start-up cancels out): flat from row to row = linear growth.

Each alternative first runs once untimed after the export ("first run":
`paraffin stale` and the Snakefile ask DVC then, and fill the status cache);
the medians are of the --repeat runs after that, the steady no-op. Every run
must leave every dvc.lock byte-equal and every output untouched, a planning
run must say "DVC reports 0 of N stages", and `dvc status` must be clean at
the end. Goal ratios (targets: stale <= 0.2x `dvc status`, Snakefile no-op
<= 1.2x the plain Snakefile, re-export <= 0.5 s) are printed with the
commands and the load average.
"""

from __future__ import annotations

import math
import resource
import subprocess
from pathlib import Path

from common import machine, save
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
from noop_project import build, plain_snakefile

PLAIN = ".paraffin/Plain.smk"
STATUS, STALE = "dvc status", "paraffin stale"
FLOOR = "plain Snakefile, same rules, no DVC (Snakemake's floor)"
# `paraffin run` re-exports on every run; when one export alone takes longer
# than this, it is timed once and reported, not repeated.
SLOW_EXPORT_S = 60.0


def snakefile(runner: str) -> str:
    return f".paraffin/Snakefile-{runner}"


def export_key(runner: str) -> str:
    return f"paraffin export snakemake [{runner}] (unchanged project)"


def _export_cmd(runner: str) -> list[object]:
    return [PARAFFIN, "export", "snakemake", "-o", snakefile(runner), "--runner", runner]


def alternatives(opts: Opts, exported: dict[str, float], full: bool) -> dict[str, list[object]]:
    alts: dict[str, list[object]] = {STATUS: [DVC, "status"], STALE: [PARAFFIN, "stale"]}
    alts[export_key(opts.runners[-1])] = _export_cmd(opts.runners[-1])
    if not full:
        return alts
    for r in opts.runners:
        alts[f"snakemake -j {opts.jobs} [{r}]"] = [SNAKEMAKE, "-s", snakefile(r), "-j", opts.jobs]
        if exported[r] < math.inf:
            run = [PARAFFIN, "run", "-j", opts.jobs, "--runner", r]
            alts[f"paraffin run -j {opts.jobs} [{r}] (export + snakemake)"] = run
    alts[FLOOR] = [SNAKEMAKE, "-s", PLAIN, "-j", opts.jobs]
    if "dvc-repro" not in opts.skip:
        alts["dvc repro"] = [DVC, "repro", "--all-pipelines"]
    return alts


def snapshot(root: Path) -> dict[str, object]:
    """Every dvc.lock's bytes and every output's mtime."""
    found: dict[str, object] = {}
    for folder in sorted(root.glob("p*")):
        found[f"{folder.name}/dvc.lock"] = (folder / "dvc.lock").read_bytes()
        for out in (folder / "out").iterdir():
            found[f"{folder.name}/out/{out.name}"] = out.stat().st_mtime_ns
    return found


def export(root: Path, runner: str, opts: Opts, limit: float | None) -> float:
    """Write the Snakefile before the timed runs (a first export: through DVC);
    its seconds, or inf when stopped after SLOW_EXPORT_S (then it is written
    with the dvc.lock files set aside, put back byte for byte)."""
    cmd, log = _export_cmd(runner), log_path(root, f"export-{runner}")
    try:
        secs = stopwatch(cmd, root, log, env=env_for(opts), timeout=limit)
    except subprocess.TimeoutExpired:
        secs = math.inf
        locks = sorted(root.glob("p*/dvc.lock"))
        for lock in locks:
            lock.rename(lock.with_suffix(".aside"))
        try:
            call(cmd, root, log, env=env_for(opts))
        finally:
            for lock in locks:
                lock.with_suffix(".aside").rename(lock)
    shown = f"{secs:.2f}s" if secs < math.inf else f"> {SLOW_EXPORT_S:.0f}s, stopped"
    print(f"  first export (through DVC), --runner {runner}: {shown}", flush=True)
    return secs


def _one(
    root: Path, key: str, cmd: list[object], n: int, opts: Opts, before: object
) -> tuple[float, float]:
    """One checked run: (wall seconds, CPU seconds of the process tree)."""
    log = log_path(root, key.split(" (")[0])
    cpu = _children_cpu()
    secs = stopwatch(cmd, root, log, env=env_for(opts))
    cpu = _children_cpu() - cpu
    if snapshot(root) != before:
        raise BenchError(f"{key} changed a dvc.lock or an output in {root} (a no-op?)")
    planned = key.startswith(("snakemake", "paraffin run"))
    if planned and f"DVC reports 0 of {n} stages" not in log.read_text():
        raise BenchError(f"{key} planned jobs on an up-to-date project: {log}")
    return secs, cpu


def _children_cpu() -> float:
    """User + system CPU seconds of every finished child so far: on a shared
    machine a steadier yardstick than the wall clock (which waits for others)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_size(n: int, opts: Opts, full: bool) -> dict[str, object]:
    print(f"== noop: {n:,} up-to-date stages ({machine()['uptime']})", flush=True)
    root = build(n)
    if dvc_status(root):
        raise BenchError(f"{root} is not up to date as built")
    (root / PLAIN).parent.mkdir(exist_ok=True)
    (root / PLAIN).write_text(plain_snakefile(n))
    before = snapshot(root)
    limit = SLOW_EXPORT_S if full else None  # growth sizes run no Snakefile
    exported = {
        r: export(root, r, opts, limit) for r in (opts.runners if full else opts.runners[-1:])
    }
    alts = alternatives(opts, exported, full)
    print(f"  in {root}:", *(f"    {k}: {_shown(c)}" for k, c in alts.items()), sep="\n")
    firsts = {k: _one(root, k, c, n, opts, before) for k, c in alts.items()}
    first = {k: v[0] for k, v in firsts.items()}
    first_cpu = {k: v[1] for k, v in firsts.items()}
    print("  first runs:", ", ".join(f"{k} {s:.2f}s" for k, s in first.items()), flush=True)
    if not full:  # growth sizes: `dvc status` once (its first run), it takes minutes
        alts.pop(STATUS)
    raw: dict[str, dict[str, list[float]]] = {k: {"seconds": [], "cpu": []} for k in alts}
    for rep in range(opts.repeat):
        for key, cmd in alts.items():
            secs, cpu = _one(root, key, cmd, n, opts, before)
            raw[key]["seconds"].append(secs)
            raw[key]["cpu"].append(cpu)
            print(
                f"    run {rep + 1}/{opts.repeat} {key}: {secs:.2f}s ({cpu:.2f}s CPU)", flush=True
            )
    if dvc_status(root):
        raise BenchError(f"dvc status not clean after the no-op runs in {root}")
    load = machine()["uptime"]
    result = {"stages": n, "runs": raw, "first": first, "first_cpu": first_cpu}
    return {**result, "export_once_s": exported, "uptime": load}


def _shown(cmd: list[object]) -> str:
    return " ".join(Path(str(c)).name if i == 0 else str(c) for i, c in enumerate(cmd))


def _status(result: dict[str, object], what: str = "seconds") -> float:
    """`dvc status`: the median, or at growth sizes its one (first) run."""
    raw = result["runs"]
    if STATUS in raw:
        return med(raw, STATUS, what)
    return result["first" if what == "seconds" else "first_cpu"][STATUS]


def size_table(result: dict[str, object]) -> str:
    raw, first = result["runs"], result["first"]
    status = _status(result)
    cpu = _status(result, "cpu")
    rows = [
        [k, f"{med(raw, k):.2f}", f"{med(raw, k) / status:.2f}x", f"{med(raw, k, 'cpu'):.2f}"]
        + [f"{med(raw, k, 'cpu') / cpu:.2f}x", f"{first[k]:.2f}"]
        for k in raw
    ]
    if STATUS not in raw:
        rows.append([f"{STATUS} (one run)", f"{status:.2f}", "1.00x", f"{cpu:.2f}", "1.00x", ""])
    for r, secs in result["export_once_s"].items():
        shown = f"{secs:.2f}" if secs < math.inf else f"> {SLOW_EXPORT_S:.0f} (stopped)"
        rows.append([f"first export [{r}] (through DVC, once)", shown, "", ""])
    heads = ["alternative", "median s", "vs dvc status", "median CPU s", "CPU vs dvc status"]
    return table([*heads, "first run s"], rows)


def goals(result: dict[str, object], opts: Opts) -> str:
    """The issue's three ratios for this size, same run."""
    raw = result["runs"]
    lines = [f"goal 2 at {result['stages']:,} stages (same run; load: {result['uptime']}):"]
    stale = med(raw, STALE) / _status(result)
    cpu = f" (CPU {med(raw, STALE, 'cpu') / _status(result, 'cpu'):.2f}x)"
    lines.append(f"  paraffin stale / dvc status = {stale:.2f}x{cpu} (target <= 0.2x)")
    snake = f"snakemake -j {opts.jobs} [paraffin]"
    if snake in raw and FLOOR in raw:
        ratio = med(raw, snake) / med(raw, FLOOR)
        cpu = med(raw, snake, "cpu") / med(raw, FLOOR, "cpu")
        what = "Snakefile no-op / plain Snakefile"
        lines.append(f"  {what} = {ratio:.2f}x (CPU {cpu:.2f}x) (target <= 1.2x)")
    export = med(raw, export_key(opts.runners[-1]))
    lines.append(f"  re-export of the unchanged project = {export:.2f} s (target <= 0.5 s)")
    return "\n".join(lines)


def per_thousand(results: list[dict[str, object]], what: str = "seconds") -> str:
    """Seconds per 1,000 stages at each size, then the marginal seconds per
    1,000 more stages between consecutive sizes (start-up cancels out)."""
    keys = [*results[-1]["runs"], STATUS]

    def secs(result: dict[str, object], key: str) -> float:
        return _status(result, what) if key == STATUS else med(result["runs"], key, what)

    rows = []
    for r in results:
        per = [secs(r, k) / r["stages"] * 1000 for k in keys]
        rows.append([f"{r['stages']:,}", *(f"{s:.3f}" for s in per)])
    for small, big in zip(results, results[1:], strict=False):
        added = (big["stages"] - small["stages"]) / 1000
        slopes = [(secs(big, k) - secs(small, k)) / added for k in keys]
        rows.append([f"{small['stages']:,} -> {big['stages']:,}", *(f"{s:.3f}" for s in slopes)])
    unit = "s" if what == "seconds" else "CPU s"
    return table(["stages", *(f"{k}: {unit} per 1k stages" for k in keys)], rows)


def measure(opts: Opts) -> dict[str, object]:
    sizes = opts.sizes or ((20,) if opts.quick else (1000,))
    results: list[dict[str, object]] = []
    for i, n in enumerate(sizes):  # saved after every size: a stopped run keeps the others
        results.append(run_size(n, opts, full=(i == 0)))
        print(f"\n{n:,} stages:\n{size_table(results[-1])}\n\n{goals(results[-1], opts)}")
        payload = _payload(results, opts)
        print(payload["growth_table"], flush=True)
        save("noop", payload)
    return payload


def _payload(results: list[dict[str, object]], opts: Opts) -> dict[str, object]:
    texts = [size_table(r) for r in results]
    growth = "\n\n".join(per_thousand(results, w) for w in ("seconds", "cpu"))
    main = results[0]
    medians = {k: med(main["runs"], k) for k in main["runs"]}
    payload = {**main, "repeat": opts.repeat, "medians": medians, "table": texts[0]}
    payload["goals"] = goals(main, opts)
    payload["sizes"] = [{**r, "table": t} for r, t in zip(results, texts, strict=True)]
    payload["growth_table"] = growth if len(results) > 1 else ""
    return payload
