"""`paraffin export snakemake --profile slurm` + `snakemake --workflow-profile
profiles/slurm` on the live single-node SLURM: each stage is its own SLURM job
and the end state equals a twin repo's plain `dvc repro`."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from conftest import BIN, init_dvc_repo, run
from slurm_cluster import SlurmCluster
from test_slurm_submit import assert_clean, lock, repro_twin

SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+)")
# A fan-out and a join, small: every job here starts Snakemake again inside SLURM.
PROJECT = {
    "data.txt": "seed\n",
    "dvc.yaml": """\
stages:
  source:
    cmd: cat data.txt > src.txt && echo made >> src.txt
    deps: [data.txt]
    outs: [src.txt]
  branch:
    foreach: [a, b c]
    do:
      cmd: cat src.txt > "branch ${item}.txt" && echo ${item} >> "branch ${item}.txt"
      deps: [src.txt]
      outs: ["branch ${item}.txt"]
  join:
    cmd: cat "branch a.txt" "branch b c.txt" > join.txt
    deps: ["branch a.txt", "branch b c.txt"]
    outs: [join.txt]
""",
    "paraffin.yaml": """\
stages:
  "branch@*":
    queue: batch
    resources: {mem_mb: 300, runtime: 7}
""",
}


def test_snakefile_runs_every_stage_as_a_slurm_job(slurm_cluster: SlurmCluster, tmp_path: Path):
    proj = init_dvc_repo(tmp_path / "proj", PROJECT)
    twin = init_dvc_repo(tmp_path / "twin", PROJECT)
    run([str(BIN / "paraffin"), "export", "snakemake", "--profile", "slurm"], proj)
    profile = yaml.safe_load((proj / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"
    env = slurm_cluster.env()
    del env["SLURM_CONF"]  # the plugin's job steps only look in /etc/slurm anyway
    smk = run(
        [str(BIN / "snakemake"), "--workflow-profile", "profiles/slurm"],
        proj,
        env=env,
        timeout=600,
    )
    job_ids = SUBMITTED.findall(smk.stderr + smk.stdout)
    records = {r["JobId"]: r for r in slurm_cluster.jobcomp()}
    assert {records[i]["JobState"] for i in job_ids} == {"COMPLETED"}
    assert {records[i]["WorkDir"] for i in job_ids} == {str(proj.resolve())}
    # One job per stage: the plugin puts the rule name in each job's comment.
    rules = re.findall(r"^rule (\w+):", (proj / "Snakefile").read_text(), re.M)
    comments = sorted(job_comment(slurm_cluster, i) for i in job_ids)
    assert comments == sorted(f"rule_{r}" for r in rules if r != "all")
    assert len(comments) == 4
    # paraffin.yaml labels reached sbatch through the Snakefile and the profile
    branch_jobs = [i for i in job_ids if job_comment(slurm_cluster, i).startswith("rule_branch")]
    assert {records[i]["Partition"] for i in branch_jobs} == {"batch"}
    assert {records[i]["TimeLimit"] for i in branch_jobs} == {"7"}
    assert all("mem=300M" in records[i]["Tres"] for i in branch_jobs)
    repro_twin(twin)
    assert lock(proj) == lock(twin)
    assert_clean(proj)


def job_comment(cluster: SlurmCluster, job_id: str) -> str:
    out = run(["scontrol", "show", "job", "-o", job_id], cluster.base, env=cluster.env()).stdout
    match = re.search(r"\bComment=(\S*)", out)
    assert match, out
    return match[1]
