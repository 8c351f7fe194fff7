"""Parallel execution: many independent stages at `-j 8` with no lock failure,
a paraffin.yaml `limit` enforced by a plain `snakemake -j 8`, and a cluster
executor whose jobs carry the labels and do not redo the plan."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import BIN, init_dvc_repo, paraffin, run, tool_env
from snakemake_support import SNAKEFILE, Pair, executed, lock_failures, locks, snakemake

HERE = Path(__file__).resolve().parents[1]  # tests/
WIDE = 32
REPEATS = 2  # each repetition costs 32 DVC processes: ~1 CPU-second each

WIDE_YAML = f"""\
stages:
  w:
    foreach: {json.dumps([f"s{i:02d}" for i in range(WIDE)])}
    do:
      cmd: echo ${{item}} >> "$RUNLOG" && echo ${{item}} ${{seed}} > w_${{item}}.txt
      params: [seed]
      outs: ["w_${{item}}.txt"]
"""


def test_wide_pipeline_has_no_lock_failures(tmp_path: Path) -> None:
    """32 stages started 8 at a time, over and over (a new seed reruns them
    all): every stage runs and is recorded, no DVC process gives up on the
    repo lock, and dvc.lock ends equal to a serial `dvc repro`'s."""
    files = {"dvc.yaml": WIDE_YAML, "params.yaml": "seed: 0\n", ".gitignore": ".snakemake/\n"}
    pair = Pair.create(tmp_path, files)
    everything = sorted(f"s{i:02d}" for i in range(WIDE))
    for rep in range(1, REPEATS + 1):
        pair.both(f"echo 'seed: {rep}' > params.yaml")
        result = pair.snakemake(f"rep{rep}")
        assert result.returncode == 0, result.stderr
        assert executed(pair.logs / f"rep{rep}.sm") == everything
        assert lock_failures(pair.sm) == []
        assert json.loads(run([str(BIN / "dvc"), "status", "--json"], pair.sm).stdout) == {}
    # each stage's lock entry depends only on the last seed: one serial run will do
    pair.repro("serial")
    assert executed(pair.logs / "serial.twin") == everything
    assert locks(pair.sm) == locks(pair.twin)


LIMITED_YAML = """\
stages:
  slow:
    foreach: [a, b, c, d, e, f]
    do:
      cmd: >-
        echo "start $(date +%s.%N)" >> "$RUNLOG" && sleep 1.5
        && echo "end $(date +%s.%N)" >> "$RUNLOG" && echo ${item} > slow_${item}.txt
      outs: ["slow_${item}.txt"]
"""


def test_limit_caps_concurrency_under_plain_snakemake(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo(
        {"dvc.yaml": LIMITED_YAML, "paraffin.yaml": 'stages:\n  "slow@*":\n    limit: 2\n'}
    )
    assert paraffin("export", "snakemake", "-C", root, "-o", root / SNAKEFILE).code == 0
    runlog = tmp_path / "times.log"
    result = snakemake(root, runlog=runlog, jobs=8)
    assert result.returncode == 0, result.stderr
    events = sorted(
        (float(t), 1 if kind == "start" else -1)
        for kind, t in (line.split() for line in runlog.read_text().splitlines())
    )
    assert len(events) == 12
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    assert most == 2


LABELLED_YAML = """\
stages:
  fit:
    foreach: [x, y]
    do:
      cmd: echo ${item} > fit_${item}.txt
      outs: ["fit_${item}.txt"]
  report:
    cmd: cat fit_x.txt fit_y.txt > report.txt
    deps: [fit_x.txt, fit_y.txt]
    outs: [report.txt]
"""
LABELS = """\
stages:
  "fit@*":
    threads: 2
    queue: gpu
    resources: {mem_mb: 1500, runtime: 30, gpu: 1}
    limit: 1
  report:
    retries: 1
    resources: {slurm_partition: short, slurm_extra: "--qos=low --comment='a b'"}
"""


def test_cluster_jobs_get_the_labels_and_skip_the_plan(tmp_path: Path) -> None:
    """snakemake-executor-plugin-cluster-generic with tests/snakemake_submit.py:
    every job arrives with its resources and threads; the jobs re-read the
    Snakefile but never ask DVC for the project's status again."""
    root = init_dvc_repo(tmp_path / "p", {"dvc.yaml": LABELLED_YAML, "paraffin.yaml": LABELS})
    assert paraffin("export", "snakemake", "-C", root, "-o", root / SNAKEFILE).code == 0
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    submit_log = jobs / "submit.jsonl"
    cmd = [str(BIN / "snakemake"), "-s", str(root / SNAKEFILE), "-j", "4"]
    cmd += ["--executor", "cluster-generic", "--seconds-between-status-checks", "1"]
    cmd += ["--cluster-generic-submit-cmd", f"{sys.executable} {HERE / 'snakemake_submit.py'}"]
    result = run(cmd, tmp_path, env=tool_env(SUBMIT_LOG=str(submit_log)), check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("paraffin: DVC reports 3 of 3 stages to run") == 1

    submitted = [json.loads(line) for line in submit_log.read_text().splitlines()]
    by_stage = {job["params"]["stage"]: job for job in submitted}
    assert sorted(by_stage) == ["fit@x", "fit@y", "report"]
    for stage in ("fit@x", "fit@y"):
        job = by_stage[stage]
        assert job["threads"] == 2
        res = job["resources"]
        assert (res["mem_mb"], res["runtime"], res["gpu"]) == (1500, 30, 1)
        assert res["slurm_partition"] == "gpu"
        assert [k for k in res if k.startswith("limit_")]
    report = by_stage["report"]["resources"]
    assert report["slurm_partition"] == "short"
    assert report["slurm_extra"] == "--qos=low --comment='a b'"

    for out in jobs.glob("*.out"):
        text = out.read_text()
        assert "--mode remote" in text
        assert "paraffin: DVC reports" not in text, out.name
    status = run([str(BIN / "dvc"), "status", "--json"], root).stdout
    assert json.loads(status) == {}
