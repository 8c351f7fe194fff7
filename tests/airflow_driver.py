"""Runs inside the Airflow venv (.venv-airflow), driven by tests/test_airflow_*.py.

    airflow_driver.py inspect OUT.json DAGS_FOLDER
        parse every DAG file the way the DAG processor does (DagBag, then
        serialization), and describe each DAG and task
    airflow_driver.py run OUT.json DAGS_FOLDER DAG_ID CONF_JSON [DAG_ID CONF_JSON ...]
        one `dag.test()` run per DAG; the state of every task instance

Results go to OUT.json, because Airflow logs to stdout.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any


def _task(task: Any) -> dict[str, Any]:
    group = task.task_group
    resources = task.resources.to_dict() if task.resources is not None else None
    return {
        "upstream": sorted(task.upstream_task_ids),
        "display_name": task.task_display_name,
        "group": group.group_id if group is not None else None,
        "group_label": getattr(group, "label", None) if group is not None else None,
        "operator": type(task).__name__,
        # the stage tasks' BashOperator fields (the first task is a PythonOperator)
        "bash_command": getattr(task, "bash_command", None),
        "env": getattr(task, "env", None),
        "append_env": getattr(task, "append_env", None),
        "cwd": getattr(task, "cwd", None),
        "skip_on_exit_code": list(getattr(task, "skip_on_exit_code", None) or ()),
        "template_fields": list(task.template_fields),
        "queue": task.queue,
        "pool": task.pool,
        "pool_slots": task.pool_slots,
        "retries": task.retries,
        "resources": {k: v["qty"] for k, v in resources.items()} if resources else None,
        "doc_md": task.doc_md,
    }


def _dag(dag: Any) -> dict[str, Any]:
    return {
        "fileloc": dag.fileloc,
        "schedule": dag.schedule,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "params": {k: dag.params[k] for k in dag.params},
        "tasks": {t.task_id: _task(t) for t in dag.tasks},
    }


def inspect(folder: str) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    # No simplefilter here: the driver runs under -W error::DeprecationWarning,
    # so a deprecation raised while importing a DAG file is an import error.
    with warnings.catch_warnings(record=True) as caught:
        start = time.perf_counter()
        bag = DagBag(dag_folder=folder)
        parsed = time.perf_counter() - start
        serialize_errors = {}
        serialized = {}
        for dag_id, dag in bag.dags.items():
            start = time.perf_counter()
            try:
                DagSerialization.to_dict(dag)
            except Exception as exc:  # noqa: BLE001 - reported to the test
                serialize_errors[dag_id] = f"{type(exc).__name__}: {exc}"
            serialized[dag_id] = time.perf_counter() - start
    files = {str(p.resolve()) for p in Path(folder).glob("*.py")}
    return {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "serialize_errors": serialize_errors,
        "warnings": [
            {"category": w.category.__name__, "file": w.filename, "message": str(w.message)}
            for w in caught
            if str(Path(w.filename).resolve()) in files
        ],
        "captured_warnings": {
            str(k): [str(w) for w in v] for k, v in getattr(bag, "captured_warnings", {}).items()
        },
        "parse_seconds": parsed,
        "file_seconds": {
            Path(st.file).name: st.duration.total_seconds() for st in bag.dagbag_stats
        },
        "serialize_seconds": serialized,
        "dags": {dag_id: _dag(dag) for dag_id, dag in sorted(bag.dags.items())},
    }


def run(folder: str, jobs: list[tuple[str, dict[str, Any] | None]]) -> dict[str, Any]:
    """One `dag.test()` per (dag_id, conf), in order, in this one process:
    Airflow's start-up cost is paid once."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=folder)
    results: dict[str, Any] = {}
    for dag_id, conf in jobs:
        if dag_id not in bag.dags:
            results[dag_id] = {"error": "no such DAG", "import_errors": dict(bag.import_errors)}
            continue
        dagrun = bag.dags[dag_id].test(run_conf=conf)
        results[dag_id] = {
            "state": str(dagrun.state),
            "tasks": {ti.task_id: str(ti.state) for ti in dagrun.get_task_instances()},
        }
    return results


def main(argv: list[str]) -> None:
    command, out, folder, *rest = argv
    if command == "inspect":
        result = inspect(folder)
    elif command == "run":
        result = run(
            folder, [(d, json.loads(c)) for d, c in zip(rest[::2], rest[1::2], strict=True)]
        )
    else:
        raise SystemExit(f"unknown command {command!r}")
    Path(out).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
