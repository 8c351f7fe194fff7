"""`paraffin run -f` and `snakemake --config force=true` as `dvc repro -f`
(issue 16, point 5): the same stages rerun, the same dvc.lock bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BIN, run, tool_env
from snakemake_support import Pair, dvc_status, executed, snakemake

pytestmark = pytest.mark.engine

DVC_YAML = """\
stages:
  a:
    cmd: echo a >> "$RUNLOG"; cat params.yaml > a.txt
    deps: [params.yaml]
    outs: [a.txt]
  b:
    cmd: echo b >> "$RUNLOG"; cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  frozen:
    cmd: echo frozen >> "$RUNLOG"; cat a.txt > f.txt
    deps: [a.txt]
    outs: [f.txt]
  c:
    cmd: echo c >> "$RUNLOG"; echo c > c.txt
    outs: [c.txt]
"""
FILES = {"dvc.yaml": DVC_YAML, "params.yaml": "x: 1\n", ".gitignore": ".snakemake/\n"}


def up_to_date(tmp_path: Path) -> Pair:
    """Both sides reproduced once, then `frozen` frozen: nothing is stale."""
    pair = Pair.create(tmp_path, FILES)
    pair.step("first")
    pair.both("dvc freeze frozen")
    pair.export()
    assert dvc_status(pair.sm) == {} and dvc_status(pair.twin) == {}
    return pair


def paraffin_run(pair: Pair, name: str, *args: str) -> list[str]:
    runlog = pair.logs / f"{name}.sm"
    runlog.touch()
    got = run(
        [str(BIN / "paraffin"), "run", "-j", "4", *args],
        pair.sm,
        check=False,
        env=tool_env(RUNLOG=str(runlog)),
    )
    assert got.returncode == 0, got.stdout + got.stderr
    return executed(runlog)


def assert_same_records(pair: Pair) -> None:
    assert (pair.sm / "dvc.lock").read_text() == (pair.twin / "dvc.lock").read_text()
    assert dvc_status(pair.sm) == dvc_status(pair.twin) == {}


@pytest.mark.parametrize("targets", [(), ("b",)])
def test_paraffin_run_force_is_dvc_repro_force(tmp_path: Path, targets: tuple[str, ...]) -> None:
    pair = up_to_date(tmp_path)
    mine = paraffin_run(pair, "forced", "-f", *targets)
    pair.repro("forced", "-f", *targets)
    assert mine == executed(pair.logs / "forced.twin")
    assert mine == (["a", "b"] if targets else ["a", "b", "c"])  # frozen: verified, not run
    assert_same_records(pair)
    # without -f nothing runs: the forced run recorded everything
    assert paraffin_run(pair, "again") == []


def test_snakefile_force_config_key(tmp_path: Path) -> None:
    pair = up_to_date(tmp_path)
    got = snakemake(pair.sm, "--config", "force=true", runlog=pair.logs / "forced.sm")
    assert got.returncode == 0, got.stdout + got.stderr
    pair.repro("forced", "-f", "--all-pipelines")
    assert executed(pair.logs / "forced.sm") == executed(pair.logs / "forced.twin")
    assert_same_records(pair)
