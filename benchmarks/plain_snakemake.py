"""Snakemake's own floor for measurement 1: the wide pipeline (N x `sleep 1`
plus a join) as a hand-written Snakefile with no DVC at all, at -j 8.

Whatever the generated Snakefile takes beyond this is DVC's work and ours.
`--exit-fixes` adds what the generated Snakefile's onsuccess does (cancel
Snakemake's leftover rate-limiter timers, `gc.freeze()`), so the two compare
like for like. Not a pytest; prints the medians and writes no JSON.

    .venv/bin/python benchmarks/plain_snakemake.py [--bin DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import WORK

EXIT_FIXES = """
import gc, threading
onsuccess:
    for timer in threading.enumerate():
        if isinstance(timer, threading.Timer):
            timer.cancel()
    gc.freeze()
"""


def snakefile(n: int, exit_fixes: bool) -> str:
    rules = ["rule all:\n    input: 'out/join'\n    default_target: True\n"]
    for i in range(n):
        rules.append(
            f"rule w{i}:\n    output: 'out/w{i}'\n    shell: 'sleep 1 && echo {i} > {{output}}'\n"
        )
    inputs = ", ".join(f"'out/w{i}'" for i in range(n))
    join = "shell: 'echo join > {output}'"
    rules.append(f"rule join:\n    input: [{inputs}]\n    output: 'out/join'\n    {join}\n")
    return "\n".join(rules) + (EXIT_FIXES if exit_fixes else "")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--bin",
        type=lambda p: Path(p).resolve(),
        default=Path(sys.executable).parent,
        help="venv bin dir",
    )
    p.add_argument("--stages", type=int, default=64)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    for fixes in (False, True):
        root = WORK / "plain-snakemake"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        (root / "Snakefile").write_text(snakefile(args.stages, fixes))
        secs = []
        for _ in range(args.repeat):
            shutil.rmtree(root / "out", ignore_errors=True)
            start = time.perf_counter()
            cmd = [str(args.bin / "snakemake"), "-j", "8", "-q"]
            subprocess.run(cmd, cwd=root, check=True, capture_output=True)
            secs.append(time.perf_counter() - start)
        runs = " / ".join(f"{s:.2f}" for s in secs)
        label = "with the exit fixes" if fixes else "as is"
        median = statistics.median(secs)
        print(f"plain snakemake ({args.bin}), {label}: median {median:.2f} s ({runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
