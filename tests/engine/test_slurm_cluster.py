"""The live SLURM the other slurm tests rely on: it runs jobs, and a failed
dependency cancels the dependent job (DependencyParameters=kill_invalid_depend)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from slurm_cluster import SlurmCluster


def sbatch(cluster: SlurmCluster, cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["sbatch", "--parsable", *args],
        cwd=cwd,
        env=cluster.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip().split(";")[0]


def test_jobs_run_and_failed_dependency_cancels(slurm_cluster: SlurmCluster, tmp_path: Path):
    ok = sbatch(slurm_cluster, tmp_path, "--job-name=it's ok", "--wrap=echo hi > ok.txt")
    bad = sbatch(slurm_cluster, tmp_path, "--job-name=bad", "--wrap=exit 3")
    after_ok = sbatch(
        slurm_cluster, tmp_path, f"--dependency=afterok:{ok}", "--wrap=touch after_ok.txt"
    )
    after_bad = sbatch(
        slurm_cluster,
        tmp_path,
        f"--dependency=afterok:{bad}",
        "--kill-on-invalid-dep=yes",
        "--wrap=touch after_bad.txt",
    )
    slurm_cluster.wait_idle()
    states = {r["JobId"]: r for r in slurm_cluster.jobcomp()}
    assert states[ok]["JobState"] == "COMPLETED"
    assert states[ok]["Name"] == "it's ok"
    assert states[bad]["JobState"] == "FAILED"
    assert states[after_ok]["JobState"] == "COMPLETED"
    assert states[after_bad]["JobState"] == "CANCELLED"
    assert (tmp_path / "ok.txt").read_text() == "hi\n"
    assert (tmp_path / "after_ok.txt").exists()
    assert not (tmp_path / "after_bad.txt").exists()
