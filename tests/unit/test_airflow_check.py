"""The Airflow DAG's first task, as pure functions (`backends/airflow_check.py`):
reading `dvc dag --mermaid`, and what changed since the export (issue 16,
point 2). The real DVC and Airflow runs are tests/engine/test_airflow_stale.py."""

from __future__ import annotations

import pytest

from paraffin_export.backends import airflow_check
from paraffin_export.backends.airflow import check_source
from paraffin_export.backends.airflow_check import read_mermaid, stale_dag


def mermaid(pipelines: list[tuple[list[str], list[tuple[str, str]]]]) -> str:
    """What DVC's `_show_mermaid` prints (dvc/commands/dag.py): per pipeline its
    nodes sorted, numbered on across pipelines, then its edges sorted."""
    text, count = "flowchart TD", 0
    for nodes, edges in pipelines:
        ids = {}
        for node in sorted(nodes):
            count += 1
            ids[node] = f"node{count}"
            text += f'\n\t{ids[node]}["{node}"]'
        for up, down in sorted(edges):
            text += f"\n\t{ids[up]}-->{ids[down]}"
    return text + "\n"


HOSTILE = ['w@"]x["', "w@a-->b", "sub/dvc.yaml:t@{{ j }}", "w@'$(x)'", "ünï"]


def test_reads_every_node_and_edge_as_dvc_prints_them() -> None:
    edges = [(HOSTILE[0], HOSTILE[1]), (HOSTILE[1], HOSTILE[2])]
    text = mermaid([(HOSTILE[:3], edges), (HOSTILE[3:], []), (["data.dvc"], [])])
    nodes, got = read_mermaid(text)
    assert sorted(nodes) == sorted([*HOSTILE, "data.dvc"])
    assert sorted(got) == sorted(edges)


@pytest.mark.parametrize(
    "text",
    [
        'flowchart TD\n\tnode1["a\nb"]\n',  # an address holding a line break
        "Updating...\nflowchart TD\n",
        'flowchart TD\n\tnode1["a"]\n\tnode1-->node2\n',
    ],
)
def test_output_it_cannot_read_is_an_error_not_another_graph(text: str) -> None:
    with pytest.raises(ValueError):
        read_mermaid(text)


BASE = (["a", "b", "c"], [("a", "b")])


def now(stages: list[str], edges: list[tuple[str, str]]) -> str:
    return mermaid([(stages, edges), (["data.txt.dvc"], [])])


@pytest.mark.parametrize(
    ("stages", "edges", "words"),
    [
        (["a", "b", "c"], [("a", "b")], []),
        (["a", "b", "c", "d"], [("a", "b"), ("b", "d")], ["stage 'd' added"]),
        (["a", "b"], [("a", "b")], ["stage 'c' removed"]),
        (["a", "b", "c2"], [("a", "b")], ["stage 'c' renamed to 'c2'"]),
        (["a", "b", "c"], [("a", "b"), ("b", "c")], ["edge 'b' -> 'c' added"]),
    ],
)
def test_names_what_changed_in_drifts_words(
    stages: list[str], edges: list[tuple[str, str]], words: list[str]
) -> None:
    assert stale_dag(*BASE, "all", now(stages, edges)) == words


def test_tracked_data_is_not_a_stage_and_scope_is_the_exports() -> None:
    # `dvc add`-tracked data feeding a stage is in DVC's graph: not a stage
    text = mermaid([(["raw.dvc", "a", "b"], [("raw.dvc", "a"), ("a", "b")])])
    assert stale_dag(["a", "b"], [("a", "b")], "all", text) == []
    grown = now(["a", "b", "z", "up"], [("up", "a"), ("a", "b")])
    # `export airflow b`: the unrelated z is not selected, the new upstream is
    assert stale_dag(["a", "b"], [("a", "b")], "upstream", grown) == ["stage 'up' added"]
    assert stale_dag(["a", "b"], [("a", "b")], "single", grown) == []
    assert stale_dag(["a", "b"], [("a", "b")], "downstream", grown) == []


def test_the_dag_file_carries_the_same_code_standalone() -> None:
    """The functions pasted into the DAG run with the standard library alone."""
    assert "paraffin_export" not in check_source()
    header = "from __future__ import annotations\nimport os\nimport subprocess\n"
    header += "from collections.abc import Collection, Iterable, Sequence\n"
    header += "Edge = tuple[str, str]\n"
    space: dict[str, object] = {}
    exec(compile(header + check_source(), "dag.py", "exec"), space)
    text = now(["a", "b", "c2"], [("a", "b"), ("b", "c2")])
    shipped = space["stale_dag"](*BASE, "all", text)  # type: ignore[operator]
    assert shipped == airflow_check.stale_dag(*BASE, "all", text)
    assert shipped == ["stage 'c2' added", "stage 'c' removed"]


def test_first_task_runs_in_the_stages_queue_when_they_share_one() -> None:
    from paraffin_export.backends.airflow import check_queue
    from paraffin_export.ir import Labels, Pipeline, Stage

    def pipe(*queues: str | None) -> Pipeline:
        stages = [
            Stage(f"s{i}", f"s{i}", "dvc.yaml", ".", ("true",), labels=Labels(queue=q))
            for i, q in enumerate(queues)
        ]
        return Pipeline(tuple(stages))

    assert check_queue(pipe("gpu", "gpu")) == "gpu"
    assert check_queue(pipe("gpu", None)) is None and check_queue(pipe()) is None
