"""The benchmark suite's one entry point (issue 6; the yardstick of issue 7).

    .venv/bin/python benchmarks/run.py [--only wide,tree,noop,compile,bookkeeping,data]
        [--repeat N] [--quick] [--runner dvc,paraffin] [--skip dvc-repro,paraffin037,minimal]
        [--jobs 8] [--sizes 1000,5000,20000] [--out DIR] [--work DIR] [--plot]

Measurements (each runs its alternatives on one generated project, in this
invocation, interleaved, median of --repeat runs, every run checked against
DVC: `dvc status` clean and dvc.lock equal across alternatives):
  wide         64 x `sleep 1` + a join
  tree         diamonds of mixed durations (true-DAG vs level-by-level)
  noop         no-op and status of an up-to-date project, 10 dvc.yaml x 100 stages
               (--sizes: more stage counts, for the growth check)
  compile      `paraffin export BACKEND` vs `dvc dag --dot`
  bookkeeping  400 tiny stages + a join: first run and rerun vs plain Snakemake
  data         4 stages x 600 MB at -j 4 vs the coreutils floor (write, md5sum, cp)
--runner: comma-separated `paraffin export snakemake --runner` values; each
becomes its own alternative, so runners are compared in the same run.
--skip: leave out alternatives while iterating (dvc-repro, paraffin037, and
minimal: the paraffin runner again from a venv with only `paraffin-export
snakemake`, as the README installs it; `dvc status` stays in noop).
--quick: tiny sizes, one repeat unless --repeat is given (a smoke test).
Raw JSON (with `nproc`, `uptime` and the date) goes to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEASUREMENTS = ("wide", "tree", "noop", "compile", "bookkeeping", "data")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", default=",".join(MEASUREMENTS), help="comma-separated measurements")
    p.add_argument("--repeat", type=int, default=None, help="runs per alternative (default 3)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    p.add_argument(
        "--runner", default="dvc,paraffin", help="snakemake runners to compare (before,after)"
    )
    p.add_argument("--skip", default="", help="alternatives to leave out")
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument(
        "--sizes",
        default="",
        help="noop: stage counts, e.g. 1000,5000,20000 (the first runs every alternative,\n"
        "the others stale, re-export and dvc status: the growth check)",
    )
    p.add_argument("--out", type=Path, help="results directory")
    p.add_argument("--work", type=Path, help="where generated projects go")
    p.add_argument("--plot", action="store_true", help="only redraw the PNG from results/")
    args = p.parse_args(argv)
    unknown = set(args.only.split(",")) - set(MEASUREMENTS)
    if unknown:
        p.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # common.py reads these at import: set them first
    out = args.out or (HERE / "results" / "quick" if args.quick else None)
    if out:  # quick numbers never overwrite a full run's
        os.environ["PARAFFIN_BENCH_RESULTS"] = str(out.resolve())
    if args.work:
        os.environ["PARAFFIN_BENCH_WORK"] = str(args.work.resolve())
    sys.path.insert(0, str(HERE))
    import plot
    from harness import Opts

    if args.plot:
        print(plot.draw())
        return 0
    opts = Opts(
        quick=args.quick,
        repeat=args.repeat or (1 if args.quick else 3),
        jobs=args.jobs,
        runners=tuple(r for r in args.runner.split(",") if r),
        skip=frozenset(s for s in args.skip.split(",") if s),
        sizes=tuple(int(s) for s in args.sizes.split(",") if s),
    )
    failed = []
    for name in args.only.split(","):
        start = time.perf_counter()
        try:
            measurement(name)(opts)
        except Exception:  # noqa: BLE001 - report it, then go on with the next measurement
            traceback.print_exc()
            failed.append(name)
        print(f"== {name} took {time.perf_counter() - start:.0f}s\n", flush=True)
    if {"wide", "compile"} & set(args.only.split(",")):
        try:
            print(plot.draw())
        except ImportError as exc:  # matplotlib is optional: the numbers are saved already
            print(f"(no plot: {exc}; `pip install matplotlib` and rerun with --plot)")
    if failed:
        print(f"FAILED measurements (no numbers saved): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def measurement(name: str):  # noqa: ANN201 - a measurement function
    import bookkeeping
    import compile as compile_bench
    import data
    import noop
    import scheduling

    return {
        "wide": scheduling.wide,
        "tree": scheduling.tree,
        "noop": noop.measure,
        "compile": compile_bench.measure,
        "bookkeeping": bookkeeping.measure,
        "data": data.measure,
    }[name]


if __name__ == "__main__":
    sys.exit(main())
