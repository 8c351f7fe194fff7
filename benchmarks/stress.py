"""Stress: N repeated parallel runs of a 32-stage wide project at -j 8, each
checked against a serial `dvc repro` twin (issue 5's fault table).

    .venv/bin/python benchmarks/stress.py [--runs 20] [--stages 32] [--jobs 8]

Every run changes a param all stages read, so all of them rerun; the run must
exit 0 with no DVC lock failure in any stage log, `dvc status` clean, and
dvc.lock equal to the twin's after its own `dvc repro`. Writes
benchmarks/results/stress.json and prints one line per run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path

import yaml
from common import BIN, env, make_project, save, sh

LOCK_FAILURES = ("Unable to acquire lock", "is busy", "failed to reproduce")


def project(stages: int) -> tuple[Path, Path]:
    keys = json.dumps([f"s{i:02d}" for i in range(stages)])
    dvc_yaml = (
        "stages:\n  w:\n"
        f"    foreach: {keys}\n"
        "    do:\n"
        "      cmd: echo ${item} ${seed} > w_${item}.txt\n"
        "      params: [seed]\n"
        '      outs: ["w_${item}.txt"]\n'
    )
    root = make_project("stress", dvc_yaml, {"params.yaml": "seed: 0\n"})
    sh([str(BIN / "paraffin"), "export", "snakemake", "-o", ".paraffin/Snakefile"], root)
    twin = root.parent / "stress-twin"
    shutil.rmtree(twin, ignore_errors=True)
    shutil.copytree(root, twin, symlinks=True)
    return root, twin


def locks(root: Path) -> object:
    return yaml.safe_load((root / "dvc.lock").read_text())


def one_run(root: Path, twin: Path, seed: int, jobs: int) -> dict[str, object]:
    for where in (root, twin):
        (where / "params.yaml").write_text(f"seed: {seed}\n")
    start = time.perf_counter()
    sm = subprocess.run(
        [str(BIN / "snakemake"), "-s", ".paraffin/Snakefile", "-j", str(jobs)],
        cwd=root,
        env=env(),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    sh([str(BIN / "dvc"), "repro", "-q"], twin)
    logs = sorted((root / ".paraffin" / "logs").glob("*.log"))
    failures = [p.name for p in logs if any(b in p.read_text() for b in LOCK_FAILURES)]
    status = json.loads(sh([str(BIN / "dvc"), "status", "--json"], root).stdout)
    return {
        "seed": seed,
        "exit": sm.returncode,
        "seconds": round(seconds, 2),
        "lock_failures": failures,
        "status_clean": status == {},
        "lock_equal": locks(root) == locks(twin),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--stages", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    root, twin = project(args.stages)
    runs = []
    for seed in range(1, args.runs + 1):
        result = one_run(root, twin, seed, args.jobs)
        runs.append(result)
        print(json.dumps(result), flush=True)
    ok = sum(
        r["exit"] == 0 and not r["lock_failures"] and r["status_clean"] and r["lock_equal"]
        for r in runs
    )
    print(f"{ok}/{len(runs)} runs correct")
    save("stress", {"stages": args.stages, "jobs": args.jobs, "runs": runs, "correct": ok})


if __name__ == "__main__":
    main()
