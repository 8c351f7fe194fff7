"""`airflow`: one static DAG file per project, one BashOperator task per stage.

Each task runs ``dvc --wait-for-lock repro --single-item -- "$PARAFFIN_STAGE"``
from the DVC root; Airflow provides the parallelism, retries, pools and queues.
Ids follow Airflow's own rules (``airflow.sdk.definitions._internal.node``):
task ids ``^[\\w.-]+$`` up to 250 characters, TaskGroup ids ``^[\\w-]+$`` up to
200. Groups use ``prefix_group_id=False``, so a task id is exactly what
``make_identifiers`` gave it (no group prefix can push it past the limit), and
task ids, group ids and their ``<group>.upstream_join_id`` helpers share one
namespace in Airflow, which the group ids here stay clear of.

The DAG's first task (``CHECK_TASK``, upstream of every stage task directly
or through its upstream stages) refuses to run a DAG whose project changed
since the export: `airflow_check`, whose code the DAG file carries.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from .. import drift
from ..errors import BackendError
from ..ir import Pipeline, Stage
from ..naming import make_identifiers
from ..render import render_template
from . import airflow_check
from .base import ExportOptions, Rendered

TASK_ID_MAX = 250
GROUP_ID_MAX = 200
POOL_NAME_MAX = 256  # the width of Airflow's pool.pool column
JOIN_SUFFIXES = (".upstream_join_id", ".downstream_join_id")
# The first task's id, kept from every stage task and group id.
CHECK_TASK = "dvc_pipeline_unchanged"
# Resource labels Airflow's own ``Resources`` declares (MB for ram and disk).
RESOURCE_KEYS = {"threads": "cpus", "mem_mb": "ram", "disk_mb": "disk", "gpu": "gpus"}

_NOT_KEY = re.compile(r"[^A-Za-z0-9_.-]")
_NOT_GROUP_KEY = re.compile(r"[^A-Za-z0-9_-]+")
_VALID_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def airflow_key(text: str) -> str:
    """An Airflow task/DAG/pool id: other characters become underscores.
    ASCII only, although Airflow's ``\\w`` is Unicode: ids end up in URLs,
    log paths and metric names, where plain ASCII is safest."""
    return _NOT_KEY.sub("_", text) or "_"


def group_key(text: str) -> str:
    """A TaskGroup id candidate: no dots, and a sub-``dvc.yaml``'s path reads as
    its folder (``sub/dvc.yaml:train`` -> ``sub_train``)."""
    readable = text.replace("/dvc.yaml:", "/").removesuffix("/dvc.yaml")
    return _NOT_GROUP_KEY.sub("_", readable).strip("_") or "_"


def task_ids(pipeline: Pipeline) -> dict[str, str]:
    return make_identifiers(
        pipeline.by_address, sanitize=airflow_key, reserved=(CHECK_TASK,), max_length=TASK_ID_MAX
    )


@cache
def check_source() -> str:
    """The check task's code, copied into the DAG file: stdlib-only functions
    that run where paraffin may not be installed (`airflow_check`)."""
    functions = (drift.selection, drift._renames, drift.changes)
    functions += (airflow_check.read_mermaid, airflow_check.stale_dag)
    functions += (airflow_check.check_pipeline,)
    return "\n\n\n".join(inspect.getsource(f).strip("\n") for f in functions) + "\n"


def dag_id_for(pipeline: Pipeline, options: ExportOptions) -> str:
    if options.dag_id is None:
        return airflow_key(pipeline.project)[:TASK_ID_MAX]
    if not _VALID_KEY.match(options.dag_id) or len(options.dag_id) > TASK_ID_MAX:
        raise BackendError(
            f"--dag-id '{options.dag_id}' is not a valid Airflow DAG id",
            hint=f"use letters, digits, '_', '.', '-' only, at most {TASK_ID_MAX} characters",
        )
    return options.dag_id


def pool_names(pipeline: Pipeline, dag_id: str) -> dict[str, str]:
    """Limit name -> pool name. The DAG id is part of the name (and of the
    hash when it had to be mangled), so two DAGs never share a limit pool."""
    full = {lim.name: f"paraffin.{dag_id}.{lim.name}" for lim in pipeline.limits}
    idents = make_identifiers(full.values(), sanitize=airflow_key, max_length=POOL_NAME_MAX)
    return {name: idents[text] for name, text in full.items()}


@dataclass(frozen=True)
class Group:
    id: str
    label: str  # display name: a folder's dvc.yaml path, or a parent's bare name
    tooltip: str
    parent: str | None = None


def check_queue(pipeline: Pipeline) -> str | None:
    """The first task's queue: the stages' when they all share one (only those
    workers may have the checkout), else Airflow's default."""
    queues = {s.labels.queue for s in pipeline.stages}
    return queues.pop() if len(queues) == 1 else None


def groups(pipeline: Pipeline, tasks: dict[str, str]) -> dict[str, Group]:
    """TaskGroups keyed by what they stand for: a sub-``dvc.yaml`` path, or a
    foreach/matrix parent (``Stage.group``) nested in its file's group."""
    files = [f for f in pipeline.dvcfiles() if f != "dvc.yaml"]
    parents = sorted({s.group for s in pipeline.stages if s.group is not None})
    taken = {*tasks.values(), CHECK_TASK}
    taken |= {t.removesuffix(sfx) for t in taken for sfx in JOIN_SUFFIXES if t.endswith(sfx)}
    ids: dict[str, str] = {}
    # Two rounds, each reserving what the last took: a foreach parent and a
    # sub-dvc.yaml may be spelled alike, and must still get different ids.
    for keys in (parents, files):
        made = make_identifiers(keys, sanitize=group_key, reserved=taken, max_length=GROUP_ID_MAX)
        ids.update(made)
        taken |= set(made.values())
    result = {f: Group(ids[f], f, f"stages of {f}") for f in files}
    for stage in pipeline.stages:
        if stage.group is not None and stage.group not in result:
            home = stage.dvcfile if stage.dvcfile != "dvc.yaml" else None
            label = stage.group.removeprefix(f"{stage.dvcfile}:")
            tip = f"foreach/matrix stage '{stage.group}'"
            result[stage.group] = Group(ids[stage.group], label, tip, home)
    return result


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def operator_labels(stage: Stage, pools: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for the stage's operator, from its paraffin.yaml labels."""
    labels = stage.labels
    wanted = ([labels.pool] if labels.pool else []) + [pools[n] for n in labels.limits]
    if len(wanted) > 1:
        raise BackendError(
            f"Airflow runs a task in one pool only, but this stage needs {len(wanted)}: "
            + ", ".join(wanted),
            stage=stage.address,
            hint="give the stage either a 'pool' or a single 'limit' in paraffin.yaml",
        )
    kwargs: dict[str, Any] = {}
    if labels.queue is not None:
        kwargs["queue"] = labels.queue
    if labels.retries is not None:
        kwargs["retries"] = labels.retries
    if wanted:
        kwargs["pool"] = wanted[0]
    extra = labels.resource_dict()
    if _int(extra.get("pool_slots")) is not None:
        kwargs["pool_slots"] = extra["pool_slots"]
    declared = {"threads": labels.threads, **extra}
    resources = {
        airflow: _int(declared.get(label))
        for label, airflow in RESOURCE_KEYS.items()
        if _int(declared.get(label)) is not None
    }
    if resources:
        kwargs["resources"] = resources
    return kwargs


def pools_document(pipeline: Pipeline, dag_id: str, pools: dict[str, str]) -> str:
    """The ``airflow pools import`` file for every limit in paraffin.yaml."""
    doc = {
        pools[lim.name]: {
            "slots": lim.slots,
            "description": f"paraffin-export: at most {lim.slots} of the stages "
            f"matching '{lim.name}' in DAG '{dag_id}' at a time",
            "include_deferred": False,
        }
        for lim in pipeline.limits
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _stage_context(
    stage: Stage,
    pipeline: Pipeline,
    tasks: dict[str, str],
    group_of: dict[str, str],
    pools: dict[str, str],
) -> dict[str, Any]:
    return {
        "task_id": tasks[stage.address],
        "address": stage.address,
        "group": group_of.get(stage.address),
        "upstream": [tasks[u] for u in pipeline.upstream(stage.address)],
        "desc": stage.desc,
        "cmd": list(stage.cmd),
        "deps": list(stage.deps),
        "outs": [o.path for o in stage.outs],
        "labels": operator_labels(stage, pools),
    }


def _group_of(pipeline: Pipeline, table: dict[str, Group]) -> dict[str, str]:
    """Stage address -> id of the innermost group holding it."""
    result = {}
    for stage in pipeline.stages:
        key = stage.group if stage.group is not None else stage.dvcfile
        if key in table:
            result[stage.address] = table[key].id
    return result


def _ordered_groups(table: dict[str, Group]) -> Iterable[Group]:
    """Parents before children (a TaskGroup needs its parent to exist)."""
    return sorted(table.values(), key=lambda g: (g.parent is not None, g.id))


class AirflowBackend:
    name = "airflow"
    help = "an Airflow DAG file (Airflow 3) with one task per stage"
    options = frozenset({"repo_path", "dag_id", "max_active_tasks"})

    def output_name(self, pipeline: Pipeline, options: ExportOptions) -> str:
        return f"{dag_id_for(pipeline, options)}.py"

    def render(self, pipeline: Pipeline, options: ExportOptions) -> Rendered:
        if options.max_active_tasks is not None and options.max_active_tasks < 1:
            raise BackendError(f"--max-active-tasks must be >= 1, not {options.max_active_tasks}")
        dag_id = dag_id_for(pipeline, options)
        tasks = task_ids(pipeline)
        table = groups(pipeline, tasks)
        pools = pool_names(pipeline, dag_id)
        group_of = _group_of(pipeline, table)
        context = {
            "project": pipeline.project,
            "dag_id": dag_id,
            "display_name": pipeline.project if pipeline.project != dag_id else None,
            "repo_path": options.repo_path or pipeline.root,
            "max_active_tasks": options.max_active_tasks,
            "check_task": CHECK_TASK,
            "check_queue": check_queue(pipeline),
            "check_source": check_source(),
            "scope": options.scope,
            "command": options.command or f"paraffin export {self.name} -o FILE",
            "groups": [
                {
                    "id": g.id,
                    "label": g.label,
                    "tooltip": g.tooltip,
                    "parent": table[g.parent].id if g.parent else None,
                }
                for g in _ordered_groups(table)
            ],
            "stages": [
                _stage_context(s, pipeline, tasks, group_of, pools) for s in pipeline.stages
            ],
        }
        main = render_template("airflow/dag.py.j2", **context)
        extras: tuple[tuple[str, str], ...] = ()
        if pipeline.limits:
            extras = ((f"{dag_id}.pools.json", pools_document(pipeline, dag_id, pools)),)
        return Rendered(main, extras)
