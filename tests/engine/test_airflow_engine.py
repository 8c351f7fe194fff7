"""The airflow backend against a real Airflow 3.3.2 (its own venv, see
tests/airflow_support.py): every golden case parses with no import error and
the DAG's edges are the IR's; `dag.test()` runs real DVC pipelines and ends
where a serial `dvc repro` on a twin repo ends; a failing stage stops its
downstream tasks; a 1,000-stage DAG parses in seconds."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_support import AIRFLOW_PYTHON, Airflow, copy_tree, session_airflow
from conftest import BIN, GOLDEN, init_dvc_repo, paraffin, run
from golden_cases import SKIP_INPUT, case_options, cases

from paraffin_export.backends import get_backend
from paraffin_export.backends.airflow import CHECK_TASK, check_source, task_ids
from paraffin_export.backends.base import ExportOptions
from paraffin_export.frontend import load_pipeline
from paraffin_export.ir import Labels, Limit, Out, Pipeline, Stage

REPO_PATH = "/srv/dvc-project"
BENCH_STAGES = 1000
BENCH_LIMIT_SECONDS = 5.0


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    return session_airflow(tmp_path_factory)


def bench_pipeline(n: int = BENCH_STAGES, width: int = 10) -> Pipeline:
    """``n`` stages in foreach groups of ``width``; each member reads two
    members of the group before it, so there are ~2n edges."""
    stages, edges = [], []
    for i in range(n):
        level, member = divmod(i, width)
        address = f"step{level}@{member}"
        ups = [f"step{level - 1}@{m}" for m in (member, (member + 1) % width)] if level else []
        stages.append(
            Stage(
                address=address,
                name=address,
                dvcfile="dvc.yaml",
                wdir=".",
                cmd=(f"python step.py {level} {member}",),
                deps=tuple(f"data/{u}.txt" for u in ups),
                outs=(Out(f"data/{address}.txt"),),
                group=f"step{level}",
                labels=Labels(retries=1, limits=("step*",)),
            )
        )
        edges += [(u, address) for u in ups]
    return Pipeline(tuple(stages), tuple(edges), (Limit("step*", 4),), "bench", "/srv/bench")


def light_copy(case: str, dest: Path) -> Path:
    """The golden case as a DVC project without git (`dvc init --no-scm`, in
    process): parsing needs no history, and this is 10x faster than git+dvc."""
    from dvc.repo import Repo

    project = dest / case
    project.mkdir()
    for item in (GOLDEN / case).iterdir():
        if item.name in SKIP_INPUT:
            continue
        if item.is_dir():
            copy_tree(item, project / item.name)
        else:
            shutil.copy2(item, project)
    root = project / str(case_options(case).get("subdir", "."))
    Repo.init(os.fspath(root), no_scm=True).close()
    return root


@pytest.fixture(scope="module")
def parsed(airflow: Airflow, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every golden case's DAG plus the 1,000-stage one, parsed in one Airflow process."""
    work = tmp_path_factory.mktemp("golden_airflow")
    dags = work / "dags"
    pipelines = {}
    for case in cases():
        root = light_copy(case, work)
        result = paraffin(
            "export", "airflow", "-C", root, "-o", f"{dags}/",
            "--repo-path", REPO_PATH, "--dag-id", case,
        )  # fmt: skip
        assert result.code == 0, f"{case}: {result.stderr}"
        pipelines[case] = load_pipeline(root)
    bench = get_backend("airflow").render(
        bench_pipeline(), ExportOptions(repo_path="/srv/bench", dag_id="bench")
    )
    (dags / "bench.py").write_text(bench.main, encoding="utf-8")
    result = airflow.inspect(dags, PARAFFIN_REPO_PATH="/from/the/environment")
    return {"pipelines": pipelines, "result": result, "dags": dags}


def test_no_import_serialization_or_deprecation_problems(parsed: dict[str, Any]) -> None:
    result = parsed["result"]
    # The driver runs under -W error::DeprecationWarning: a deprecation raised
    # by our file would be an import error here.
    assert result["import_errors"] == {}
    assert result["serialize_errors"] == {}
    assert result["warnings"] == []
    assert all(not w for w in result["captured_warnings"].values())
    assert sorted(result["dags"]) == sorted([*cases(), "bench"])


@pytest.mark.parametrize("case", cases())
def test_golden_dag_matches_the_ir(case: str, parsed: dict[str, Any]) -> None:
    pipeline: Pipeline = parsed["pipelines"][case]
    dag = parsed["result"]["dags"][case]
    assert (dag["schedule"], dag["catchup"], dag["max_active_runs"]) == (None, False, 1)
    # PARAFFIN_REPO_PATH in the environment beats the exported --repo-path.
    assert dag["params"] == {"repo_path": "/from/the/environment"}
    ids = task_ids(pipeline)
    # the first task (dvc.yaml unchanged since the export) comes before every root stage
    expected = {ids[s.address]: sorted(ids[u] for u in pipeline.upstream(s.address)) or [CHECK_TASK]
                for s in pipeline.stages} | {CHECK_TASK: []}  # fmt: skip
    assert {t: v["upstream"] for t, v in dag["tasks"].items()} == expected
    assert dag["tasks"][CHECK_TASK]["operator"] == "PythonOperator"
    for s in pipeline.stages:
        task = dag["tasks"][ids[s.address]]
        assert task["display_name"] == s.address
        assert task["env"] == {"PARAFFIN_STAGE": s.address}
        assert task["append_env"] is True and task["skip_on_exit_code"] == []
        assert task["cwd"] == "{{ params.repo_path }}" and "env" not in task["template_fields"]
        assert "--wait-for-lock repro --single-item" in task["bash_command"]
        assert s.address in task["doc_md"] and all(d in task["doc_md"] for d in s.deps)
        assert (task["group"] is None) == (s.group is None and s.dvcfile == "dvc.yaml")
        if s.group is None and s.dvcfile != "dvc.yaml":  # shown by its path, not its id
            assert task["group_label"] == s.dvcfile
        elif s.group is not None:
            assert task["group_label"] == s.group.rsplit(":", 1)[-1]


def test_labels_case_reaches_airflow(parsed: dict[str, Any]) -> None:
    tasks = {t["display_name"]: t for t in parsed["result"]["dags"]["labels"]["tasks"].values()}
    pools = json.loads((parsed["dags"] / "labels.pools.json").read_text())
    (fetch_pool,) = pools
    assert pools[fetch_pool]["slots"] == 2
    assert {tasks[f"fetch@api{i}"]["pool"] for i in (1, 2, 3)} == {fetch_pool}
    assert tasks["fetch@api1"]["retries"] == 3
    assert (tasks["train@rnn"]["queue"], tasks["train@rnn"]["pool"]) == ("gpu", "gpu_pool")
    assert tasks["train@rnn"]["resources"]["ram"] == 32000
    assert tasks["report"]["queue"] == "cpu" and tasks["report"]["pool"] == "default_pool"


def test_thousand_stage_dag_parses_in_seconds(parsed: dict[str, Any]) -> None:
    result = parsed["result"]
    tasks = result["dags"]["bench"]["tasks"]
    assert len(tasks) == BENCH_STAGES + 1  # and the first task
    seconds = result["file_seconds"]["bench.py"]
    print(f"\n1,000-stage DAG: parse {seconds:.2f} s, "
          f"serialize {result['serialize_seconds']['bench']:.2f} s")  # fmt: skip
    assert seconds < BENCH_LIMIT_SECONDS


def test_import_with_deprecations_as_errors(parsed: dict[str, Any], airflow: Airflow) -> None:
    """The DAG file on its own, as `python -W error::DeprecationWarning FILE`."""
    dags = parsed["dags"]
    proc = subprocess.run(
        [str(AIRFLOW_PYTHON), "-W", "error::DeprecationWarning", str(dags / "hostile.py")],
        env=airflow.env(dags),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr


PIPELINE = {
    "params.yaml": "seed: 7\n",
    "dvc.yaml": """\
stages:
  prepare:
    cmd: grep seed params.yaml > prepared.txt
    params: [seed]
    outs: [prepared.txt]
  weird:
    foreach:
      "$(touch pwned)": one
      "{{ jinja }}.sh": two
    do:
      cmd: cat prepared.txt > weird_${item}.txt && echo ${item} >> weird_${item}.txt
      deps: [prepared.txt]
      outs: ["weird_${item}.txt"]
  join:
    cmd: cat weird_one.txt weird_two.txt sub/count.txt > joined.txt
    deps: [weird_one.txt, weird_two.txt, sub/count.txt]
    outs: [joined.txt]
""",
    "sub/dvc.yaml": """\
stages:
  count:
    wdir: ..
    cmd: wc -c < prepared.txt > sub/count.txt
    deps: [prepared.txt]
    outs: [sub/count.txt]
""",
}


FAILING = {
    "dvc.yaml": """\
stages:
  ok:
    cmd: echo ok > ok.txt
    outs: [ok.txt]
  bad:
    cmd: cat ok.txt > bad.txt && exit 99
    deps: [ok.txt]
    outs: [bad.txt]
  after:
    cmd: cat bad.txt > after.txt
    deps: [bad.txt]
    outs: [after.txt]
  independent:
    cmd: echo i > independent.txt
    outs: [independent.txt]
""",
}


def locks(root: Path) -> dict[str, Any]:
    return {
        p.relative_to(root).as_posix(): yaml.safe_load(p.read_text())
        for p in sorted(root.rglob("dvc.lock"))
        if ".dvc" not in p.parts
    }


def dvc(root: Path, *args: str) -> str:
    return run([str(BIN / "dvc"), *args], root).stdout


@pytest.fixture(scope="module")
def runs(airflow: Airflow, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both pipelines below, each in its own git+dvc repo, run by `dag.test()`
    in one Airflow process (its start-up costs ~20 s)."""
    work = tmp_path_factory.mktemp("airflow_runs")
    dags = work / "dags"
    good = init_dvc_repo(work / "runproj", PIPELINE)
    twin = copy_tree(good, work / "twin")
    bad = init_dvc_repo(work / "failproj", FAILING)
    assert paraffin("export", "airflow", "-C", good, "-o", f"{dags}/").code == 0
    # A repo path that does not exist: the run's `repo_path` param overrides it.
    args = ("-o", f"{dags}/", "--repo-path", str(work / "elsewhere"))
    assert paraffin("export", "airflow", "-C", bad, *args).code == 0
    # PARAFFIN_DVC names the dvc the tasks run: a wrapper that logs each call.
    calls = work / "calls.log"
    wrapper = work / "dvc-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$PWD $*" >> {calls}\nexec {BIN / "dvc"} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    jobs = {"runproj": None, "failproj": {"repo_path": str(bad)}}
    results = airflow.run(dags, jobs, PARAFFIN_DVC=os.fspath(wrapper))
    calls_by_repo: dict[str, list[str]] = {}
    for line in calls.read_text().splitlines():
        cwd, _, args_ = line.partition(" ")
        calls_by_repo.setdefault(cwd, []).append(args_)
    return {"results": results, "good": good, "twin": twin, "bad": bad, "dags": dags,
            "calls": calls_by_repo}  # fmt: skip


PREFIX = "--wait-for-lock repro --single-item -- "
CHECK_CALL = "dag --mermaid"


def test_dag_test_runs_the_pipeline_like_dvc_repro(runs: dict[str, Any]) -> None:
    root, twin, result = runs["good"], runs["twin"], runs["results"]["runproj"]
    pipeline = load_pipeline(root)
    assert result.get("state") == "success", result
    assert result["tasks"] == {t: "success" for t in [*task_ids(pipeline).values(), CHECK_TASK]}
    # Each stage ran once, from the DVC root given at export time, after the
    # first task asked the same dvc for the graph.
    calls = [*(PREFIX + s.address for s in pipeline.stages), CHECK_CALL]
    assert sorted(runs["calls"][str(root)]) == sorted(calls)
    dvc(twin, "repro")
    assert locks(root) == locks(twin) and set(locks(root)) == {"dvc.lock", "sub/dvc.lock"}
    for out in ("prepared.txt", "weird_one.txt", "weird_two.txt", "sub/count.txt", "joined.txt"):
        assert (root / out).read_text() == (twin / out).read_text(), out
    assert (root / "joined.txt").read_text().count("seed: 7") == 2
    assert json.loads(dvc(root, "status", "--json")) == {}
    assert not any(p.name == "pwned" for p in (*root.rglob("*"), *runs["dags"].rglob("*")))


def test_failing_stage_fails_its_task_and_stops_downstream(runs: dict[str, Any]) -> None:
    root, result = runs["bad"], runs["results"]["failproj"]
    assert result.get("state") == "failed", result
    assert result["tasks"] == {
        "ok": "success",
        "bad": "failed",  # exit code 99 is a failure, not a skip
        "after": "upstream_failed",
        "independent": "success",
        CHECK_TASK: "success",
    }
    # `after` never started; the others (and the first task) ran in the repo
    # the run's param named.
    calls = [PREFIX + s for s in ("bad", "independent", "ok")]
    assert sorted(runs["calls"][str(root)]) == sorted([*calls, CHECK_CALL])
    assert set(yaml.safe_load((root / "dvc.lock").read_text())["stages"]) == {"ok", "independent"}
    assert not (root / "after.txt").exists()


@pytest.mark.parametrize("case", cases())
def test_first_task_finds_every_golden_case_unchanged(case: str, parsed: dict[str, Any]) -> None:
    """The code the DAG file carries for its first task, run on its own (standard
    library and `dvc` only) in each golden project: DVC's graph, as `dvc dag`
    prints it (foreach, matrix, sub-dvc.yaml and hostile addresses), is the IR's."""
    pipeline: Pipeline = parsed["pipelines"][case]
    header = "from __future__ import annotations\nimport os\nimport subprocess\n"
    header += "from collections.abc import Collection, Iterable, Sequence\nEdge = tuple[str, str]\n"
    space: dict[str, Any] = {}
    exec(compile(header + check_source(), "dag.py", "exec"), space)
    addresses = [s.address for s in pipeline.stages]
    check, dvc = space["check_pipeline"], os.fspath(BIN / "dvc")
    check(addresses, pipeline.edges, "all", "cmd", pipeline.root, dvc)
    # and it does notice a stage gone
    with pytest.raises(RuntimeError, match="stage 'gone' removed"):
        check([*addresses, "gone"], pipeline.edges, "all", "cmd", pipeline.root, dvc)
