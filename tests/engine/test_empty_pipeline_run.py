"""`paraffin run` on a project with no stages: Snakemake does nothing and
succeeds, as `dvc repro --all-pipelines` does (docs/empty-pipeline.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BIN, init_dvc_repo, run

DVCLIVE_ONLY = "metrics:\n- dvclive/metrics.json\nplots:\n- dvclive/plots/metrics:\n    x: step\n"


@pytest.mark.engine
def test_paraffin_run_of_an_empty_project_succeeds_like_dvc_repro(tmp_path: Path) -> None:
    root = init_dvc_repo(tmp_path / "proj", {"dvc.yaml": DVCLIVE_ONLY})
    run([str(BIN / "dvc"), "repro", "--all-pipelines"], root)  # the oracle accepts it
    ran = run([str(BIN / "paraffin"), "run", "-j", "2"], root, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "the exported workflow is empty" in ran.stderr
    assert not (root / "dvc.lock").exists()
