"""Measurement 4, compile speed: `paraffin export BACKEND` against `dvc dag --dot`,
same projects, same run.

    .venv/bin/python benchmarks/run.py --only compile [--repeat 3] [--quick]
    .venv/bin/python benchmarks/compile.py [--repeat 3] [--quick]   (the same)

Projects: the 4,172-stage dfsnow__opentimes from tests/corpus, a 2,000-stage
chain (where DVC's acyclicity check is quadratic) and 1k/5k/20k wide pipelines
(the growth check: seconds per 1,000 stages should stay flat as the size grows).
--quick: a 100-stage chain and 100/300-stage wide pipelines only.
Every command is a whole process, as a user runs it (Python and DVC import
included). Prints medians and ratios, writes results/compile.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from common import BIN, REPO, WORK, chain_yaml, make_project, median, save, sh, timed, wide_yaml
from harness import Opts, table

CORPUS = REPO / "tests" / "corpus" / "dfsnow__opentimes"


def _writable(root: Path) -> None:
    """The corpus is read-only; its copy must not be (rmtree, dvc init)."""
    for base, dirs, files in os.walk(root):
        for name in [*dirs, *files, "."]:
            p = Path(base, name)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)


def projects(quick: bool) -> dict[str, tuple[Path, int]]:
    """label -> (DVC root, stages)."""
    found: dict[str, tuple[Path, int]] = {}
    if CORPUS.is_dir() and not quick:
        dest = WORK / "opentimes"
        if dest.exists():
            _writable(dest)
            shutil.rmtree(dest)
        shutil.copytree(CORPUS, dest)
        _writable(dest)
        sh(["git", "init", "-q"], dest)
        sh([str(BIN / "dvc"), "init", "-q"], dest)
        found["opentimes"] = (dest, 4172)
    chain = 100 if quick else 2000
    found[f"chain {chain:,}"] = (make_project(f"chain{chain}", chain_yaml(chain)), chain)
    for n in (100, 300) if quick else (1000, 5000, 20000):
        found[f"wide {n:,}"] = (make_project(f"wide{n}", wide_yaml(n)), n + 1)
    return found


def backends() -> list[str]:
    sys.path.insert(0, str(REPO))
    from paraffin_export.backends import REGISTRY

    return [b for b in ("json", "snakemake", "airflow", "mermaid") if b in REGISTRY]


def export_cmd(backend: str, runner: str) -> list[str]:
    extra = {"airflow": ["--repo-path", "/srv/project"], "snakemake": ["--runner", runner]}
    return [str(BIN / "paraffin"), "export", backend, "-o", "-", *extra.get(backend, [])]


def run(cmd: list[str], cwd: object) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def measure(opts: Opts) -> dict[str, object]:
    names = backends()
    rows: dict[str, dict[str, list[float]]] = {}
    sizes: dict[str, int] = {}
    lines = []
    for label, (root, stages) in projects(opts.quick).items():
        print(f"== compile: {label}", flush=True)
        commands = {"dvc dag --dot": [str(BIN / "dvc"), "dag", "--dot"]}
        commands.update({b: export_cmd(b, opts.runners[0]) for b in names})
        rows[label], sizes[label] = {k: [] for k in commands}, stages
        for _ in range(opts.repeat):  # interleaved, as in the other measurements
            for what, cmd in commands.items():
                rows[label][what] += timed(lambda cmd=cmd, root=root: run(cmd, root), 1)
        base = median(rows[label]["dvc dag --dot"])
        cells = [
            f"{median(rows[label][b]):.2f} ({median(rows[label][b]) / base:.2f}x)" for b in names
        ]
        lines.append([label, f"{stages:,}", f"{base:.2f}", *cells])
        print("  " + " | ".join(lines[-1]), flush=True)
    text = table(
        ["project", "stages", "dvc dag --dot s", *(f"{b} s (vs dag)" for b in names)], lines
    )
    growth = per_thousand(rows, sizes, ["dvc dag --dot", *names])
    print(text + "\n\n" + growth, flush=True)
    payload = {"repeat": opts.repeat, "stages": sizes, "seconds": rows, "table": text}
    payload["growth_table"] = growth
    out = save("compile", payload)
    print(f"raw numbers: {out}")
    return payload


def per_thousand(rows: dict, sizes: dict[str, int], tools: list[str]) -> str:
    """Marginal seconds per 1,000 more stages between consecutive wide sizes
    (the fixed start-up cancels out): about equal from row to row = linear."""
    wide = sorted((label for label in rows if label.startswith("wide")), key=sizes.get)
    lines = []
    for small, big in zip(wide, wide[1:], strict=False):
        added = (sizes[big] - sizes[small]) / 1000
        slopes = [(median(rows[big][t]) - median(rows[small][t])) / added for t in tools]
        lines.append([f"{small} -> {big}", *(f"{s:.2f}" for s in slopes)])
    return table(["wide pipelines", *(f"{t}: s per 1k more stages" for t in tools)], lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small projects only")
    args = parser.parse_args()
    measure(Opts(quick=args.quick, repeat=args.repeat))


if __name__ == "__main__":
    main()
