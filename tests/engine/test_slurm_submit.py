"""`paraffin export slurm` end to end on the live single-node SLURM: every stale
stage becomes one SLURM job, the end state equals a twin repo's plain `dvc repro`,
a failed stage cancels only its descendants, and rerunning the script finishes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from conftest import BIN, init_dvc_repo, run
from slurm_cluster import SlurmCluster

# source -> three branches (one hostile name) -> join; `solo` hangs off one branch;
# `-x` stands alone (a name that looks like an option).
# A branch fails while a FAIL_<value> file exists (not a dependency, so removing it
# is a "fix" DVC does not see: the stage simply still has no lock entry).
PROJECT = {
    "data.txt": "seed\n",
    "params.yaml": "delay: 0\n",
    "dvc.yaml": """\
stages:
  source:
    cmd: cat data.txt > src.txt && echo made >> src.txt
    deps: [data.txt]
    outs: [src.txt]
  branch:
    foreach:
      a: a
      "it's ;$(x)": q
      c c: c
    do:
      cmd: >-
        if [ -e FAIL_${item} ]; then echo failing >&2; exit 3; fi;
        cat src.txt > branch_${item}.txt && echo ${item} >> branch_${item}.txt
      deps: [src.txt]
      outs: ["branch_${item}.txt"]
  slow:
    cmd: sleep ${delay} && cat src.txt > slow.txt && echo ${delay} >> slow.txt
    deps: [src.txt]
    outs: [slow.txt]
  solo:
    cmd: cat branch_a.txt > solo.txt
    deps: [branch_a.txt]
    outs: [solo.txt]
  -x:
    cmd: echo dash > dash.txt
    outs: [dash.txt]
  join:
    cmd: cat branch_a.txt branch_q.txt branch_c.txt slow.txt > join.txt
    deps: [branch_a.txt, branch_q.txt, branch_c.txt, slow.txt]
    outs: [join.txt]
""",
    "paraffin.yaml": """\
stages:
  "branch@*":
    queue: batch
    resources: {mem_mb: 300, runtime: 7}
""",
}
ALL = ["source", "branch@a", "branch@it's ;$(x)", "branch@c c", "slow", "solo", "-x", "join"]
SUMMARY = re.compile(r"^(\d+)\t(.*)$")


def make_pair(tmp_path: Path) -> tuple[Path, Path]:
    """The project under test (with its submit script) and its twin for `dvc repro`."""
    proj = init_dvc_repo(tmp_path / "proj", PROJECT)
    twin = init_dvc_repo(tmp_path / "twin", PROJECT)
    run([str(BIN / "paraffin"), "export", "slurm"], proj)
    return proj, twin


def submit(cluster: SlurmCluster, proj: Path) -> dict[str, str]:
    """Run the submit script; its summary as {address: job id}."""
    out = run(["bash", "slurm-submit.sh"], proj, env=cluster.env()).stdout
    return {m[2]: m[1] for m in map(SUMMARY.match, out.splitlines()) if m}


def repro_twin(twin: Path) -> None:
    run([str(BIN / "dvc"), "repro", "-q"], twin)


def lock(root: Path) -> dict:
    # Parallel jobs append their entries in completion order: compare as mappings.
    return yaml.safe_load((root / "dvc.lock").read_text())


def assert_clean(root: Path) -> None:
    out = run([str(BIN / "dvc"), "status", "--json"], root).stdout
    assert out.strip() == "{}", out


def jobs_by_id(cluster: SlurmCluster) -> dict[str, dict[str, str]]:
    return {r["JobId"]: r for r in cluster.jobcomp()}


def test_fan_out_and_join_run_as_slurm_jobs(slurm_cluster: SlurmCluster, tmp_path: Path):
    proj, twin = make_pair(tmp_path)
    submitted = submit(slurm_cluster, proj)
    assert sorted(submitted) == sorted(ALL)
    slurm_cluster.wait_idle()
    records = jobs_by_id(slurm_cluster)
    for address, job_id in submitted.items():
        assert records[job_id]["Name"] == address  # the DVC address is the job name
        assert records[job_id]["JobState"] == "COMPLETED"
        assert records[job_id]["WorkDir"] == str(proj.resolve())
    branches = [submitted[a] for a in ALL if a.startswith("branch@")]
    assert {records[i]["Partition"] for i in branches} == {"batch"}  # paraffin.yaml queue
    assert {records[i]["TimeLimit"] for i in branches} == {"7"}
    assert all("mem=300M" in records[i]["Tres"] for i in branches)
    assert records[submitted["join"]]["Partition"] == "debug"
    # afterok held the join back until every branch had finished
    join_start = records[submitted["join"]]["StartTime"]
    upstream = ["source", "branch@a", "branch@it's ;$(x)", "branch@c c", "slow"]
    assert all(records[submitted[a]]["EndTime"] <= join_start for a in upstream)
    repro_twin(twin)
    assert lock(proj) == lock(twin)
    assert_clean(proj)
    # Nothing stale: nothing submitted, and the script says so.
    assert submit(slurm_cluster, proj) == {}


def test_failure_cancels_only_descendants_and_rerun_finishes(
    slurm_cluster: SlurmCluster, tmp_path: Path
):
    proj, twin = make_pair(tmp_path)
    (proj / "FAIL_q").write_text("")
    first = submit(slurm_cluster, proj)
    slurm_cluster.wait_idle()
    records = jobs_by_id(slurm_cluster)
    states = {a: records[first[a]]["JobState"] for a in ALL}
    assert states == {
        "source": "COMPLETED",
        "branch@a": "COMPLETED",
        "branch@it's ;$(x)": "FAILED",
        "branch@c c": "COMPLETED",
        "slow": "COMPLETED",
        "solo": "COMPLETED",
        "-x": "COMPLETED",
        "join": "CANCELLED",
    }
    assert "failing" in (proj / ".paraffin/slurm").joinpath(_log_name(proj, "q")).read_text()
    assert set(lock(proj)["stages"]) == {"source", "branch@a", "branch@c c", "slow", "solo", "-x"}

    (proj / "FAIL_q").unlink()
    second = submit(slurm_cluster, proj)
    assert sorted(second) == ["branch@it's ;$(x)", "join"]  # only what was left
    slurm_cluster.wait_idle()
    records = jobs_by_id(slurm_cluster)
    assert {records[i]["JobState"] for i in second.values()} == {"COMPLETED"}
    repro_twin(twin)
    assert lock(proj) == lock(twin)
    assert_clean(proj)


def test_only_stale_stages_submitted_and_rerun_reuses_queued_jobs(
    slurm_cluster: SlurmCluster, tmp_path: Path
):
    proj, twin = make_pair(tmp_path)
    submit(slurm_cluster, proj)
    slurm_cluster.wait_idle()
    repro_twin(twin)
    for root in (proj, twin):
        # long enough that `slow` is surely still queued or running at the rerun,
        # however loaded the machine (the stale query alone can take seconds)
        (root / "params.yaml").write_text("delay: 20\n")
        # frozen, output edited by hand: dvc repro records the new hash, runs nothing
        run([str(BIN / "dvc"), "freeze", "solo"], root)
        (root / "solo.txt").write_text("by hand\n")
    changed = submit(slurm_cluster, proj)
    assert sorted(changed) == ["join", "slow", "solo"]
    # Rerun while those jobs are still queued or running (slow sleeps 20 s): no duplicates.
    again = submit(slurm_cluster, proj)
    assert "slow" in again
    assert again.items() <= changed.items()  # the same job ids, nothing new
    slurm_cluster.wait_idle()
    repro_twin(twin)
    assert lock(proj) == lock(twin)
    assert_clean(proj)
    names = [r["Name"] for r in slurm_cluster.jobcomp() if r["WorkDir"] == str(proj.resolve())]
    assert sorted(names) == sorted(ALL + ["slow", "join", "solo"])  # 7, then 3, none twice


def _log_name(proj: Path, value: str) -> str:
    logs = [p.name for p in (proj / ".paraffin/slurm").glob("*.log") if "it_s" in p.name]
    assert len(logs) == 1, logs
    return logs[0]
