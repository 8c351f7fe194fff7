"""dvc.lock and .gitignore bytes as `dvc repro` writes them, whatever order the
`paraffin` runner's jobs finish in (issue 16, point 3).

Each gated stage waits, inside its command, until the stage it is gated on is
recorded in dvc.lock: the jobs finish, and are recorded, in exactly the reverse
of `dvc repro`'s order, each in its own dvc.lock write. The twin runs the same
commands under `dvc repro --all-pipelines` with the gates open (NOGATE=1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BIN, run, tool_env
from snakemake_support import Pair, snakemake

pytestmark = pytest.mark.engine


def gated(
    name: str, after: str | None, deps: tuple[str, ...] = (), out: str | None = None
) -> list[str]:
    """A stage writing OUT (data/NAME) once AFTER is in dvc.lock (at once with NOGATE)."""
    out = out or f"data/{name}"
    wait = (
        f'[ -n "$NOGATE" ] || until grep -qs "^  {after}:" dvc.lock; do'
        f" [ $((i += 1)) -lt 12000 ] || exit 9; sleep 0.01; done; "
        if after
        else ""
    )
    cat = "".join(f" {d}" for d in deps)
    return [
        f"  {name}:",
        "    cmd: " + json.dumps(f'{wait}echo {name} >> "$RUNLOG"; cat params.yaml{cat} > {out}'),
        "    deps: [" + ", ".join(("params.yaml", *deps)) + "]",
        f"    outs: [{out}]",
    ]


def pipeline(extra: list[str] = ()) -> str:  # type: ignore[assignment]
    # `top` comes first in dvc.yaml but needs data/s2: DVC runs s2 before it;
    # the export's own topological order (s0, s1, s2, top, s3) is not DVC's
    stages = [
        *gated("top", None, ("data/s2",)),
        *gated("s0", "s1"),
        *gated("s1", "s2"),
        *gated("s2", "s3"),
        *gated("s3", None),
        *gated("root", None, ("data/s0",), "r.txt"),
        *extra,
    ]
    return "\n".join(["stages:", *stages]) + "\n"


NEW = [*gated("n0", "n1"), *gated("n1", None, ("data/s3",))]


def both(pair: Pair, name: str, *args: str) -> None:
    """Snakemake with the gates here; `dvc repro --all-pipelines` on the twin."""
    got = snakemake(pair.sm, *args, runlog=pair.logs / f"{name}.sm", jobs=8)
    assert got.returncode == 0, got.stdout + got.stderr
    env = tool_env(RUNLOG=str(pair.logs / f"{name}.twin"), NOGATE="1")
    run([str(BIN / "dvc"), "repro", "--all-pipelines"], pair.twin, env=env)


def assert_same_bytes(pair: Pair) -> None:
    for rel in ("dvc.lock", ".gitignore", "data/.gitignore"):
        mine, theirs = pair.sm / rel, pair.twin / rel
        assert mine.read_text() == theirs.read_text(), rel
    found = {p.relative_to(pair.sm) for p in pair.sm.rglob(".gitignore") if ".dvc" not in p.parts}
    twin = {p.relative_to(pair.twin) for p in pair.twin.rglob(".gitignore")}
    assert found - {Path(".paraffin/.gitignore")} == twin - {Path(".dvc/.gitignore")}


@pytest.mark.parametrize("runs", [1, 2])
def test_lock_and_gitignore_bytes_match_dvc_repro(tmp_path: Path, runs: int) -> None:
    files = {
        "dvc.yaml": pipeline(),
        "params.yaml": "lr: 1\n",
        "data/keep": "",
        ".gitignore": ".snakemake/\n",
    }
    pair = Pair.create(tmp_path, files)
    both(pair, "first")
    assert_same_bytes(pair)
    for i in range(runs):
        # new stages gated in reverse, and every old stage rerun by a params edit
        pair.both(f"echo 'lr: {i + 2}' > params.yaml")
        if i == 0:
            pair.both(f"printf '%s' {_q(pipeline(NEW))} > dvc.yaml")
            pair.export()
        both(pair, f"rerun{i}")
        assert_same_bytes(pair)


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
