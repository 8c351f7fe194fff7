"""A DVC pipeline as an Airflow DAG, one task per stage (made by paraffin-export).

Do not edit: run `paraffin export airflow` again after changing dvc.yaml or
paraffin.yaml. Each task runs `dvc --wait-for-lock repro --single-item` for its
stage from the DVC root, so DVC decides what is up to date and records every
result in dvc.lock. Set PARAFFIN_REPO_PATH on the workers (or the `repo_path`
param of a run) to point at another checkout, PARAFFIN_DVC to use another
`dvc` executable.

The first task, dvc_pipeline_unchanged, asks that `dvc` for the project's
graph (`dvc dag --mermaid`) and fails when stages were added, removed or
renamed or edges changed since the export: then no stage task runs, and its
log names the changes and the command that exports this file again.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
from collections.abc import Collection, Iterable, Sequence

try:  # Airflow 3
    from airflow.sdk import DAG, TaskGroup
except ImportError:  # Airflow 2.10
    from airflow.models.dag import DAG
    from airflow.utils.task_group import TaskGroup
try:  # the standard provider: Airflow 3, or 2.10 with the provider installed
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2.10 without it
    from airflow.operators.bash import BashOperator
try:
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:
    from airflow.operators.python import PythonOperator

REPO_PATH = os.environ.get("PARAFFIN_REPO_PATH") or '/srv/dvc-project'
# The stage address reaches bash only through the environment: nothing to quote.
REPRO = 'exec "${PARAFFIN_DVC:-dvc}" --wait-for-lock repro --single-item -- "$PARAFFIN_STAGE"'
GROUP_LABELS = "group_display_name" in inspect.signature(TaskGroup).parameters
# What the export selected ("all", or targets with their "upstream" or
# "downstream", or "single" items) and the command that exports it again.
SCOPE = 'all'
EXPORT_COMMAND = 'paraffin export airflow --repo-path /srv/dvc-project -o hostile.py'
CHECK_TASK = 'dvc_pipeline_unchanged'
Edge = tuple[str, str]


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


# The first task's code (paraffin_export/drift.py and backends/airflow_check.py).


def selection(
    addresses: Iterable[str], edges: Iterable[Edge], exported: Collection[str], scope: str
) -> set[str]:
    """The stages the export would select now."""
    now = set(addresses)
    if scope == "all":
        return now
    chosen = {a for a in exported if a in now}
    if scope == "single":
        return chosen
    step: dict[str, list[str]] = {}
    for up, down in edges:
        src, dst = (down, up) if scope == "upstream" else (up, down)
        step.setdefault(src, []).append(dst)
    todo = list(chosen)
    while todo:
        for nxt in step.get(todo.pop(), ()):
            if nxt not in chosen:
                chosen.add(nxt)
                todo.append(nxt)
    return chosen


def _renames(
    removed: list[str], added: list[str], old_edges: set[Edge], new_edges: set[Edge]
) -> list[tuple[str, str]]:
    """A removed and an added stage with the same neighbours: most likely a rename."""

    def around(stage: str, edges: set[Edge]) -> tuple[frozenset[str], frozenset[str]]:
        ups = frozenset(u for u, d in edges if d == stage)
        return ups, frozenset(d for u, d in edges if u == stage)

    pairs, free = [], list(added)
    for gone in removed:
        for new in free:
            if around(gone, old_edges) == around(new, new_edges):
                pairs.append((gone, new))
                free.remove(new)
                break
    return pairs


def changes(
    old: Sequence[str],
    old_edges: Collection[Edge],
    new: Collection[str],
    new_edges: Collection[Edge],
) -> list[str]:
    """What changed, in words: stages added, removed or renamed, edges changed."""
    new_edges = {(u, d) for u, d in new_edges if u in new and d in new}
    removed = [a for a in old if a not in new]
    known = set(old)  # once: not per stage (20,000 stages)
    added = sorted(a for a in new if a not in known)
    renamed = _renames(removed, added, set(old_edges), new_edges)
    rename = dict(renamed)
    out = [f"stage '{a}' renamed to '{b}'" for a, b in renamed]
    out += [f"stage '{a}' added" for a in added if a not in rename.values()]
    out += [f"stage '{a}' removed" for a in removed if a not in rename]
    # edges between stages on both sides: those of added or removed stages go with them
    kept = {rename.get(a, a) for a in old if a in new or a in rename}
    then = {(rename.get(u, u), rename.get(d, d)) for u, d in old_edges}
    then = {(u, d) for u, d in then if u in kept and d in kept}
    now = {(u, d) for u, d in new_edges if u in kept and d in kept}
    out += [f"edge '{u}' -> '{d}' added" for u, d in sorted(now - then)]
    out += [f"edge '{u}' -> '{d}' removed" for u, d in sorted(then - now)]
    return out


def read_mermaid(text: str) -> tuple[list[str], list[Edge]]:
    """Nodes and (upstream, downstream) edges of ``dvc dag --mermaid`` output:
    ``\\tnodeN["ADDRESS"]`` and ``\\tnodeA-->nodeB`` lines after ``flowchart TD``.
    DVC writes an address unquoted, so everything between the first ``["``
    and the line's closing ``"]`` is the address; any other line (an address
    holding a line break) is an error, never a silently different graph."""
    lines = text.split("\n")
    if lines[0].rstrip() != "flowchart TD":
        raise ValueError(f"`dvc dag --mermaid` printed {lines[0][:200]!r}, not a flowchart")
    names: dict[str, str] = {}
    links: list[tuple[str, str]] = []
    for line in lines[1:]:
        head, bracket, rest = line.partition('["')
        if bracket and head.startswith("\tnode") and rest.endswith('"]'):
            names[head[1:]] = rest[:-2]
        elif line.startswith("\tnode") and "-->" in line:
            up, _, down = line[1:].partition("-->")
            links.append((up, down))
        elif line.strip():
            raise ValueError(f"unexpected line in `dvc dag --mermaid` output: {line[:200]!r}")
    missing = sorted({n for link in links for n in link if n not in names})
    if missing:
        raise ValueError(f"`dvc dag --mermaid` names no node {missing[0]!r}")
    return list(names.values()), [(names[u], names[d]) for u, d in links]


def stale_dag(
    exported: Sequence[str], exported_edges: Collection[Edge], scope: str, text: str
) -> list[str]:
    """What changed between the exported graph and DVC's now (``text``: the
    output of ``dvc dag --mermaid``), in `drift.changes`' words; [] if nothing."""
    nodes, edges = read_mermaid(text)
    known = set(exported)
    # DVC's graph also holds `dvc add`-tracked data, addressed by its .dvc file:
    # not a stage (a new stage literally named "x.dvc" is not noticed).
    stages = [n for n in nodes if n in known or not n.endswith(".dvc")]
    ours = set(stages)
    edges = [(u, d) for u, d in edges if u in ours and d in ours]
    now = selection(stages, edges, exported, scope)
    return changes(exported, set(exported_edges), now, set(edges))


def check_pipeline(
    exported: Sequence[str],
    exported_edges: Collection[Edge],
    scope: str,
    command: str,
    repo: str,
    dvc: str,
) -> None:
    """Raise when DVC's graph in ``repo`` is not the exported one: the message
    names what changed and ``command``, which exports the file again."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    call = [dvc, "dag", "--mermaid"]
    try:
        proc = subprocess.run(call, cwd=repo, env=env, capture_output=True, check=False)
    except OSError as exc:  # no such dvc, or no such repo path
        raise RuntimeError(f"cannot run `{' '.join(call)}` in {repo}: {exc}") from None
    if proc.returncode != 0:
        said = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"`{' '.join(call)}` failed in {repo} (exit {proc.returncode}): {said}")
    found = stale_dag(exported, exported_edges, scope, proc.stdout.decode("utf-8"))
    if found:
        raise RuntimeError(
            "this Airflow DAG is stale, the DVC pipeline changed since it was exported: "
            + "; ".join(found)
            + f"\n  hint: export it again, from the DVC root: {command}"
        )
    print(f"the DVC pipeline in {repo} is the one exported ({len(exported)} stages)")


def _check(params):
    """Refuse to run when the DVC pipeline is not the one exported."""
    dvc = os.environ.get("PARAFFIN_DVC") or "dvc"
    exported = list(stage_addresses.values())
    check_pipeline(exported, stage_edges, SCOPE, EXPORT_COMMAND, params["repo_path"], dvc)


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
    stage_addresses[task_id] = address
    stage_edges.extend((stage_addresses[up], address) for up in upstream)
    task.set_upstream([dag.get_task(up) for up in upstream or [CHECK_TASK]])


groups = {}
stage_addresses = {}  # task id -> address, as _stage declares them: the exported graph
stage_edges = []  # (upstream, downstream) addresses
with DAG(
    dag_id='hostile',
    description="DVC pipeline: one task per stage, run by dvc repro",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    params={"repo_path": REPO_PATH},
    tags=["dvc", "paraffin"],
) as dag:
    PythonOperator(
        task_id=CHECK_TASK,
        task_display_name="dvc.yaml unchanged since the export",
        doc_md=_block("fails when this DAG is stale; export it again with", [EXPORT_COMMAND]),
        python_callable=_check,
        retries=0,
    )
    _group('sub_bc03b48f', 'sub/dvc.yaml', 'stages of sub/dvc.yaml')
    _group('weird', 'weird', "foreach/matrix stage 'weird'")
    _stage(
        'end',
        'end',
        cmd=['echo "end" > end.txt'],
        outs=['end.txt'],
    )
    _stage(
        'all',
        'all',
        cmd=["echo 'all' > all.txt"],
        outs=['all.txt'],
    )
    _stage(
        'class',
        'class',
        upstream=['end', 'all'],
        cmd=['printf \'%s\\n\' "{braces}" \'{{ jinja }}\' "$HOME-free" > class.txt'],
        deps=['end.txt', 'all.txt'],
        outs=['class.txt'],
    )
    _stage(
        'rule',
        'rule',
        cmd=['python3 -c "import sys; print(\'a\\\\tb\', \\"q\\")" > rule.txt'],
        outs=['rule.txt'],
    )
    _stage(
        'subgraph',
        'subgraph',
        cmd=['echo first line > subgraph.txt\necho "second \\$line" >> subgraph.txt\n'],
        outs=['subgraph.txt'],
    )
    _stage(
        '2x',
        '2x',
        cmd=['echo 2x > 2x.txt'],
        outs=['2x.txt'],
    )
    _stage(
        'prepare-data',
        'prepare-data',
        cmd=['echo p > prepare-data.txt'],
        outs=['prepare-data.txt'],
    )
    _stage(
        'prepare_data',
        'prepare_data',
        cmd=['echo p > prepare_data.txt'],
        outs=['prepare_data.txt'],
    )
    _stage(
        'Prepare_Data',
        'Prepare_Data',
        cmd=['echo P > Prepare_Data.txt'],
        outs=['Prepare_Data.txt'],
    )
    _stage(
        'weird_it_s_cc77bcf2',
        "weird@it's",
        group='weird',
        upstream=['class'],
        cmd=['echo f1 > weird_f1.txt'],
        deps=['class.txt'],
        outs=['weird_f1.txt'],
    )
    _stage(
        'weird_say__hi__2c2536c3',
        'weird@say "hi"',
        group='weird',
        upstream=['class'],
        cmd=['echo f2 > weird_f2.txt'],
        deps=['class.txt'],
        outs=['weird_f2.txt'],
    )
    _stage(
        'weird___touch_pwned__89f2899b',
        'weird@$(touch pwned)',
        group='weird',
        upstream=['class'],
        cmd=['echo f3 > weird_f3.txt'],
        deps=['class.txt'],
        outs=['weird_f3.txt'],
    )
    _stage(
        'weird__id__265c1ffd',
        'weird@`id`',
        group='weird',
        upstream=['class'],
        cmd=['echo f4 > weird_f4.txt'],
        deps=['class.txt'],
        outs=['weird_f4.txt'],
    )
    _stage(
        'weird__x__a60513e2',
        'weird@{x}',
        group='weird',
        upstream=['class'],
        cmd=['echo f5 > weird_f5.txt'],
        deps=['class.txt'],
        outs=['weird_f5.txt'],
    )
    _stage(
        'weird_a_b_b872dbba',
        'weird@a b',
        group='weird',
        upstream=['class'],
        cmd=['echo f6 > weird_f6.txt'],
        deps=['class.txt'],
        outs=['weird_f6.txt'],
    )
    _stage(
        'weird_gr__e_6942aa91',
        'weird@größe',
        group='weird',
        upstream=['class'],
        cmd=['echo f7 > weird_f7.txt'],
        deps=['class.txt'],
        outs=['weird_f7.txt'],
    )
    _stage(
        'weird_semi_colon_3abaeca7',
        'weird@semi;colon',
        group='weird',
        upstream=['class'],
        cmd=['echo f8 > weird_f8.txt'],
        deps=['class.txt'],
        outs=['weird_f8.txt'],
    )
    _stage(
        'sub_dvc.yaml_x_6510259b',
        'sub/dvc.yaml:x',
        group='sub_bc03b48f',
        upstream=['class'],
        cmd=['echo x > x.txt'],
        deps=['class.txt'],
        outs=['sub/x.txt'],
    )
