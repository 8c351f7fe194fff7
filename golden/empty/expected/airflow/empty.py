"""A DVC pipeline as an Airflow DAG, one task per stage (made by paraffin-export).

Do not edit: run `paraffin export airflow` again after changing dvc.yaml or
paraffin.yaml. Each task runs `dvc --wait-for-lock repro --single-item` for its
stage from the DVC root, so DVC decides what is up to date and records every
result in dvc.lock. Set PARAFFIN_REPO_PATH on the workers (or the `repo_path`
param of a run) to point at another checkout, PARAFFIN_DVC to use another
`dvc` executable.
"""

from __future__ import annotations

import inspect
import os
import re

try:  # Airflow 3
    from airflow.sdk import DAG, TaskGroup
except ImportError:  # Airflow 2.10
    from airflow.models.dag import DAG
    from airflow.utils.task_group import TaskGroup
try:  # the standard provider: Airflow 3, or 2.10 with the provider installed
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2.10 without it
    from airflow.operators.bash import BashOperator

REPO_PATH = os.environ.get("PARAFFIN_REPO_PATH") or '/srv/dvc-project'
# The stage address reaches bash only through the environment: nothing to quote.
REPRO = 'exec "${PARAFFIN_DVC:-dvc}" --wait-for-lock repro --single-item -- "$PARAFFIN_STAGE"'
GROUP_LABELS = "group_display_name" in inspect.signature(TaskGroup).parameters


class DvcStageOperator(BashOperator):
    """Runs one DVC stage. Unlike BashOperator it does not template ``env``:
    addresses are data, and Airflow would render them as Jinja (or read a
    file for one ending in ".sh")."""

    template_fields = ("bash_command", "cwd")


def _block(title, lines):
    """Markdown showing ``lines`` literally: the fence outgrows any backtick run."""
    text = "\n".join(lines)
    fence = "`" * max(3, 1 + max(map(len, re.findall("`+", text)), default=0))
    return f"**{title}**\n\n{fence}text\n{text}\n{fence}"


def _group(group_id, label, tooltip, parent=None):
    shown = {"group_display_name": label} if GROUP_LABELS else {}
    groups[group_id] = TaskGroup(
        group_id,
        prefix_group_id=False,
        parent_group=groups[parent] if parent else None,
        tooltip=tooltip,
        **shown,
    )


def _stage(task_id, address, *, cmd, group=None, upstream=(), desc=None, deps=(), outs=(), **kw):
    shown = [("DVC stage", [address]), ("desc", [desc] if desc else []), ("cmd", cmd)]
    shown += [("deps", deps), ("outs", outs)]
    doc = [_block(title, items) for title, items in shown if items]
    task = DvcStageOperator(
        task_id=task_id,
        task_display_name=address,
        doc_md="\n\n".join(doc),
        task_group=groups[group] if group else None,
        bash_command=REPRO,
        env={"PARAFFIN_STAGE": address},
        append_env=True,
        cwd="{{ params.repo_path }}",
        skip_on_exit_code=None,
        **kw,
    )
    task.set_upstream([dag.get_task(up) for up in upstream])


groups = {}
with DAG(
    dag_id='empty',
    description="DVC pipeline: one task per stage, run by dvc repro",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    params={"repo_path": REPO_PATH},
    tags=["dvc", "paraffin"],
) as dag:
    pass
