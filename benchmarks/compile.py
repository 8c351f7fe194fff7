"""Compile speed: `paraffin export BACKEND` against `dvc dag --dot`, same projects, same run.

    .venv/bin/python benchmarks/compile.py [--repeat 3] [--quick]

Projects: the 4,172-stage dfsnow__opentimes from ../shared/corpus, a 2,000-stage
chain (where DVC's acyclicity check is quadratic) and 1k/5k/20k wide pipelines.
Prints medians and ratios, writes benchmarks/results/compile.json.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from common import BIN, REPO, WORK, chain_yaml, make_project, median, save, sh, timed, wide_yaml

CORPUS = REPO.parent / "shared" / "corpus" / "dfsnow__opentimes"


def projects(quick: bool) -> dict[str, object]:
    found = {}
    if CORPUS.is_dir():
        dest = WORK / "opentimes"
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(CORPUS, dest)
        sh(["git", "init", "-q"], dest)
        sh([str(BIN / "dvc"), "init", "-q"], dest)
        found["opentimes (4,172)"] = dest
    found["chain 2,000"] = make_project("chain2000", chain_yaml(2000))
    for n in (1000, 5000) if quick else (1000, 5000, 20000):
        found[f"wide {n:,}"] = make_project(f"wide{n}", wide_yaml(n))
    return found


def backends() -> list[str]:
    sys.path.insert(0, str(REPO))
    from paraffin_export.backends import REGISTRY

    return [b for b in ("json", "snakemake", "airflow", "mermaid") if b in REGISTRY]


def export_cmd(backend: str) -> list[str]:
    extra = ["--repo-path", "/srv/project"] if backend == "airflow" else []
    return [str(BIN / "paraffin"), "export", backend, "-o", "-", *extra]


def run(cmd: list[str], cwd: object) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the 20k project")
    args = parser.parse_args()
    names = backends()
    rows: dict[str, dict[str, list[float]]] = {}
    for label, root in projects(args.quick).items():
        commands = {"dvc dag --dot": [str(BIN / "dvc"), "dag", "--dot"]}
        commands.update({b: export_cmd(b) for b in names})
        rows[label] = {
            what: timed(lambda cmd=cmd, root=root: run(cmd, root), args.repeat)  # type: ignore[misc]
            for what, cmd in commands.items()
        }
        base = median(rows[label]["dvc dag --dot"])
        cells = ", ".join(
            f"{b} {median(rows[label][b]):.2f}s ({median(rows[label][b]) / base:.2f}x)"
            for b in names
        )
        print(f"{label:>18}: dvc dag --dot {base:.2f}s | {cells}", flush=True)
    out = save("compile", {"repeat": args.repeat, "seconds": rows})
    print(f"raw numbers: {out}")


if __name__ == "__main__":
    main()
