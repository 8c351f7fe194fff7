"""The SLURM submit script on the live cluster (issue 16, points 2 and 5):
exported before dvc.yaml changed, it submits nothing and names what changed;
with --force it reruns every stage as `dvc repro -f` does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import BIN, init_dvc_repo, run, tool_env
from slurm_cluster import SlurmCluster
from test_stale_workflow import BASE, CHANGES, dvc_yaml

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_stale_submit_script_submits_nothing(
    slurm_cluster: SlurmCluster, tmp_path: Path, change: str
) -> None:
    root = init_dvc_repo(tmp_path / "p", {"dvc.yaml": dvc_yaml(BASE)})
    run([str(BIN / "paraffin"), "export", "slurm"], root)
    stages, expected = CHANGES[change]
    (root / "dvc.yaml").write_text(dvc_yaml(stages))
    got = run(["bash", "slurm-submit.sh"], root, check=False, env=slurm_cluster.env())
    assert got.returncode != 0, got.stdout + got.stderr
    for words in expected:
        assert words in got.stderr, got.stderr
    assert "paraffin export slurm -o slurm-submit.sh" in got.stderr, got.stderr
    assert not list(root.glob(".paraffin/slurm/*.jobid")), "a job was submitted"


def test_force_reruns_what_dvc_repro_force_reruns(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    files = {"dvc.yaml": dvc_yaml(BASE)}
    proj, twin = (init_dvc_repo(tmp_path / name, files) for name in ("proj", "twin"))
    run([str(BIN / "paraffin"), "export", "slurm"], proj)
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "forced", "twin")}
    for path in logs.values():
        path.touch()
    env = {"RUNLOG": str(logs["first"])}
    run(["bash", "slurm-submit.sh"], proj, env=slurm_cluster.env(**env))
    slurm_cluster.wait_idle()
    run([str(BIN / "dvc"), "repro"], twin, env=tool_env(RUNLOG=str(tmp_path / "ignored")))
    env = {"RUNLOG": str(logs["forced"])}
    out = run(["bash", "slurm-submit.sh", "--force"], proj, env=slurm_cluster.env(**env))
    assert "3 submitted" in out.stdout, out.stdout
    slurm_cluster.wait_idle()
    run([str(BIN / "dvc"), "repro", "-f"], twin, env=tool_env(RUNLOG=str(logs["twin"])))
    ran = sorted(logs["forced"].read_text().split())
    assert ran == sorted(logs["twin"].read_text().split()) == ["a", "b", "c"]
    assert yaml.safe_load((proj / "dvc.lock").read_text()) == yaml.safe_load(
        (twin / "dvc.lock").read_text()
    )
    assert run([str(BIN / "dvc"), "status", "--json"], proj).stdout.strip() == "{}"
