"""Smoke test of the benchmark suite (benchmarks/run.py), so its scripts cannot
rot: the quick mode of the cheapest measurement, the no-op rerun, end to end
(a real project made up to date by DVC, the exported Snakefile, `paraffin run`,
`dvc status`, `dvc repro`, each run checked to leave the repo untouched)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import REPO, run, tool_env

pytestmark = pytest.mark.slow


def test_quick_noop_measurement_writes_verified_numbers(tmp_path: Path) -> None:
    out, work = tmp_path / "results", tmp_path / "work"
    cmd = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--only", "noop"]
    proc = run([*cmd, "--out", str(out), "--work", str(work)], REPO, env=tool_env(), timeout=300)
    data = json.loads((out / "noop.json").read_text())
    assert data["machine"]["nproc"].isdigit() and data["machine"]["date"]
    assert data["stages"] == 20 and data["repeat"] == 1
    assert set(data["medians"]) == {
        "snakemake -j 8 [dvc]",
        "paraffin run -j 8 [dvc] (export + snakemake)",
        "snakemake -j 8 [paraffin]",
        "paraffin run -j 8 [paraffin] (export + snakemake)",
        "dvc status",
        "paraffin stale",
        "paraffin export snakemake [paraffin] (unchanged project)",
        "plain Snakefile, same rules, no DVC (Snakemake's floor)",
        "dvc repro",
    }
    assert all(seconds > 0 for seconds in data["medians"].values())
    assert "| dvc status |" in proc.stdout and "vs dvc status" in data["table"]


def test_quick_data_measurement_compares_with_the_coreutils_floor(tmp_path: Path) -> None:
    out, work = tmp_path / "results", tmp_path / "work"
    cmd = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--only", "data"]
    run([*cmd, "--out", str(out), "--work", str(work)], REPO, env=tool_env(), timeout=300)
    data = json.loads((out / "data.json").read_text())
    assert data["stages"] == 4 and data["jobs"] == 4
    assert set(data["ratios"]) == {"paraffin", "paraffin, serial hashing (before)"}
    assert data["medians"]["floor"] > 0 and data["medians"]["dvc repro"] > 0


def test_unknown_measurement_is_a_usage_error() -> None:
    cmd = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--only", "nope"]
    proc = run(cmd, REPO, check=False, env=tool_env(), timeout=60)
    assert proc.returncode == 2 and "unknown measurement" in proc.stderr
