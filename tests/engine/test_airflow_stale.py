"""A stale Airflow DAG refuses before any stage task (issue 16, point 2), in a
real Airflow 3 (`dag.test()`, see tests/airflow_support.py): its first task
asks the workers' `dvc` for the project's graph and fails, naming what changed
and the export command; every stage task is upstream_failed, nothing ran.
The workers here have `dvc` (PARAFFIN_DVC) but no paraffin on PATH."""

from __future__ import annotations

import os
from typing import Any

import pytest
from airflow_support import Airflow, session_airflow
from conftest import BIN, init_dvc_repo, paraffin

from paraffin_export.backends.airflow import CHECK_TASK

pytestmark = pytest.mark.engine


def stage(name: str, deps: tuple[str, ...] = ()) -> str:
    lines = [f"  {name}:", f'    cmd: echo "$PWD {name}" >> "$RUNLOG"; echo {name} > {name}.txt']
    if deps:
        lines.append(f"    deps: [{', '.join(deps)}]")
    lines.append(f"    outs: [{name}.txt]")
    return "\n".join(lines)


def dvc_yaml(stages: dict[str, tuple[str, ...]]) -> str:
    return "stages:\n" + "\n".join(stage(n, d) for n, d in stages.items()) + "\n"


BASE = {"a": (), "b": ("a.txt",), "c": ()}
CHANGES = {
    "added": ({**BASE, "d": ("b.txt",)}, "stage 'd' added"),
    "removed": ({"a": (), "b": ("a.txt",)}, "stage 'c' removed"),
    "renamed": ({"a": (), "b": ("a.txt",), "c2": ()}, "stage 'c' renamed to 'c2'"),
    "edge": ({"a": (), "b": ("a.txt",), "c": ("b.txt",)}, "edge 'b' -> 'c' added"),
}
# A sub-dvc.yaml and a foreach, addressed as DVC addresses them, unchanged.
SUB = {"dvc.yaml": dvc_yaml(BASE), "sub/dvc.yaml": """\
stages:
  each:
    foreach: [x, y]
    do:
      cmd: echo "$PWD ${item}" >> "$RUNLOG"; cat ../a.txt > e_${item}.txt
      deps: [../a.txt]
      outs: ["e_${item}.txt"]
"""}  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each change in its own project, exported, then dvc.yaml edited; plus the
    same projects unchanged: all run by `dag.test()` in one Airflow process."""
    airflow: Airflow = session_airflow(tmp_path_factory)
    work = tmp_path_factory.mktemp("airflow_stale")
    dags, runlog = work / "dags", work / "runlog"
    runlog.touch()
    roots = {}
    for name in [*CHANGES, "unchanged"]:
        files = SUB if name == "unchanged" else {"dvc.yaml": dvc_yaml(BASE)}
        roots[name] = init_dvc_repo(work / name, files)
        args = ("-o", f"{dags}/", "--dag-id", name)
        assert paraffin("export", "airflow", "-C", roots[name], *args).code == 0
        if name in CHANGES:
            (roots[name] / "dvc.yaml").write_text(dvc_yaml(CHANGES[name][0]))
    env = {"PATH": "/usr/bin:/bin", "PARAFFIN_DVC": os.fspath(BIN / "dvc")}
    results, log = airflow.run_logged(dags, dict.fromkeys(roots), RUNLOG=str(runlog), **env)
    return {"results": results, "log": log, "roots": roots, "ran": runlog.read_text()}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_stale_dag_fails_at_its_first_task(runs: dict[str, Any], change: str) -> None:
    root, result = runs["roots"][change], runs["results"][change]
    assert result.get("state") == "failed", result
    tasks = dict(result["tasks"])
    assert tasks.pop(CHECK_TASK) == "failed", result
    assert set(tasks.values()) == {"upstream_failed"}, result
    # no stage ran: nothing written, DVC recorded nothing
    assert f"{root} " not in runs["ran"] and not list(root.glob("*.txt")), runs["ran"]
    assert not (root / "dvc.lock").exists()
    words = CHANGES[change][1]
    command = f"paraffin export airflow --dag-id {change} -o ../dags/{change}.py"
    message = (
        "this Airflow DAG is stale, the DVC pipeline changed since it was exported: "
        f"{words}\n  hint: export it again, from the DVC root: {command}"
    )
    assert message in runs["log"], runs["log"][-4000:]


def test_unchanged_dag_with_sub_dvc_yaml_and_foreach_runs(runs: dict[str, Any]) -> None:
    root, result = runs["roots"]["unchanged"], runs["results"]["unchanged"]
    assert result.get("state") == "success", result
    assert set(result["tasks"].values()) == {"success"} and len(result["tasks"]) == 6
    assert (root / "sub" / "e_y.txt").read_text() == "a\n"
    assert "the DVC pipeline in" in runs["log"]
