"""Snakemake backend, wall time, side by side in one run (not part of pytest).

wide: N stages of `sleep 1` plus a join; plain `dvc repro` on one copy of the
      project, `snakemake -j 8` on the exported Snakefile on a twin copy.
noop: an up-to-date project of M stages (chains of 10); `snakemake -j 8`
      (which asks DVC for the status once and starts no job) against
      `dvc status`.

    .venv/bin/python benchmarks/snakemake_run.py [--wide 32] [--noop 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from common import BIN, median, save, sh, timed, wide_yaml
from common import make_project as _make_project


def export(root: Path) -> None:
    sh([str(BIN / "paraffin"), "export", "snakemake", "-o", ".paraffin/Snakefile"], root)


def snakemake(root: Path, jobs: int = 8) -> str:
    cmd = [str(BIN / "snakemake"), "-s", ".paraffin/Snakefile", "-j", str(jobs)]
    return sh(cmd, root).stderr


def wide(n: int) -> dict[str, object]:
    root = _make_project("sm-wide", wide_yaml(n, cmd="sleep 1 && echo {i} > out/w{i}"))
    twin = root.parent / "sm-wide-twin"
    shutil.rmtree(twin, ignore_errors=True)
    shutil.copytree(root, twin, symlinks=True)
    export(root)
    repro = timed(lambda: sh([str(BIN / "dvc"), "repro"], twin), 1)[0]
    run = timed(lambda: snakemake(root), 1)[0]
    ideal = -(-n // 8) * 1.0 + 0.0
    return {"stages": n + 1, "dvc_repro_s": repro, "snakemake_j8_s": run, "ideal_s": ideal}


def noop_yaml(m: int) -> str:
    lines = ["stages:"]
    for i in range(m):
        lines += [f"  s{i}:", f"    cmd: echo {i} > out/{i}.txt", f"    outs: [out/{i}.txt]"]
        if i % 10:
            lines.append(f"    deps: [out/{i - 1}.txt]")
    return "\n".join(lines) + "\n"


def noop(m: int, repeat: int) -> dict[str, object]:
    root = _make_project("sm-noop", noop_yaml(m))
    # Export before dvc.lock exists: the frontend reads dvc.lock once per stage
    # today (quadratic on one big dvc.yaml); the Snakefile does not depend on it.
    export(root)
    (root / "out").mkdir()
    for i in range(m):
        (root / "out" / f"{i}.txt").write_text(f"{i}\n")
    sh([str(BIN / "dvc"), "commit", "-f", "-q"], root)
    first = snakemake(root)
    assert f"DVC reports 0 of {m} stages to run" in first, first
    status, run = [], []
    for _ in range(repeat):
        status += timed(lambda: sh([str(BIN / "dvc"), "status", "-q"], root), 1)
        run += timed(lambda: snakemake(root), 1)
    return {
        "stages": m,
        "dvc_status_s": status,
        "snakemake_noop_s": run,
        "ratio_of_medians": median(run) / median(status),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wide", type=int, default=32)
    parser.add_argument("--noop", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {"wide": wide(args.wide), "noop": noop(args.noop, args.repeat)}
    print(save("snakemake_run", results).read_text())


if __name__ == "__main__":
    main()
