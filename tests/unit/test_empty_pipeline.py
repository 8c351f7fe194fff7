"""A project with no stages (a new one, or a dvclive-only dvc.yaml) is not an
error: `dvc dag` and `dvc repro --all-pipelines` accept it, so every backend
exports an empty workflow with a warning, exit 0, and `--check` works from the
project's first commit. Engines running it do nothing and succeed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import init_dvc_repo, paraffin

from paraffin_export.backends import REGISTRY
from paraffin_export.export import UNITS

DVCLIVE_ONLY = "metrics:\n- dvclive/metrics.json\nplots:\n- dvclive/plots/metrics:\n    x: step\n"
NO_STAGES = "dvc.yaml defines no stages (and no other dvc.yaml does)"
NO_DVC_YAML = "no dvc.yaml in this DVC project (add stages with `dvc stage add`)"
PROJECTS = {
    "dvclive only": ({"dvc.yaml": DVCLIVE_ONLY}, NO_STAGES),
    "stages: {}": ({"dvc.yaml": "stages: {}\n"}, NO_STAGES),
    "no dvc.yaml": ({}, NO_DVC_YAML),
}
NEW_STAGE = "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"


@pytest.mark.parametrize("backend", sorted(REGISTRY))
@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_empty_project_exports_an_empty_workflow(
    backend: str, project: str, tmp_path: Path
) -> None:
    files, warning = PROJECTS[project]
    root = init_dvc_repo(tmp_path / "proj", files)
    out = tmp_path / "out" / "workflow"
    result = paraffin("export", backend, "-C", root, "-o", out)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"WARNING: {warning}: the exported workflow is empty",
        f"paraffin: wrote {out} (0 {UNITS.get(backend, 'stages')})",
    ], result.stderr
    assert out.is_file()
    check = paraffin("export", backend, "-C", root, "-o", out, "--check")
    assert check.code == 0, check.stdout + check.stderr
    # the first stage makes the empty export stale: the hook catches it
    (root / "dvc.yaml").write_text(NEW_STAGE + (DVCLIVE_ONLY if "dvclive" in project else ""))
    assert paraffin("export", backend, "-C", root, "-o", out, "--check").code == 1


def test_json_of_an_empty_project(tmp_path: Path) -> None:
    root = init_dvc_repo(tmp_path / "proj", {"dvc.yaml": DVCLIVE_ONLY})
    result = paraffin("export", "json", "-C", root, "-o", "-")
    assert result.code == 0
    assert '"stages": []' in result.stdout and '"edges": []' in result.stdout
