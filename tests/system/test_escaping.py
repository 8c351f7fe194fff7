"""Every stage name and command survives every backend (hypothesis).

Names use any character DVC accepts in a stage name or foreach key (`@ - . /`,
spaces, quotes, `$`, backticks, braces, unicode); commands carry quotes, `{}`,
`{{ }}`, `$VAR`, `%`, backslashes and newlines. Generated files are code: a name
must reach the engine exactly, and never end or inject Python or shell.
"""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mermaid_parser import MermaidServer

from paraffin_export.backends import get_backend
from paraffin_export.backends.base import ExportOptions
from paraffin_export.ir import Out, Pipeline, Stage

HOSTILE = list("@-./ '\"$`{}()[];:&|<>#%\\*?!~^=,+")
KEY_CHARS = st.one_of(
    st.sampled_from(HOSTILE),
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
)
KEYS = st.text(KEY_CHARS, min_size=1, max_size=14)
DEFS = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,8}", fullmatch=True)
CMD_PARTS = st.sampled_from(
    ["'", '"', "{", "}", "{{ x }}", "{% if %}", "$VAR", "${HOME}", "%s", "%%", "\\", "\n", "`", " "]
)
CMDS = st.lists(st.one_of(CMD_PARTS, st.text(max_size=6)), max_size=12).map("".join)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def pipelines(draw: st.DrawFn) -> Pipeline:
    keys = draw(st.lists(KEYS, min_size=1, max_size=8, unique=True))
    defname = draw(DEFS)
    in_sub = draw(st.booleans())
    prefix = "sub/dvc.yaml:" if in_sub else ""
    stages = [
        Stage(
            address=f"{prefix}{defname}@{key}",
            name=f"{defname}@{key}",
            dvcfile="sub/dvc.yaml" if in_sub else "dvc.yaml",
            wdir="sub" if in_sub else ".",
            cmd=(draw(CMDS),),
            deps=(f"in/{key}",),
            outs=(Out(f"out/{key}"),),
            group=f"{prefix}{defname}",
        )
        for key in keys
    ]
    plain = draw(
        st.lists(
            st.sampled_from(["end", "all", "class", "rule", "subgraph", "2x"]),
            unique=True,
            max_size=3,
        )
    )
    stages += [Stage(a, a, "dvc.yaml", ".", (draw(CMDS),)) for a in plain]
    edges = tuple(
        (stages[i].address, stages[j].address)
        for i in range(len(stages))
        for j in range(i + 1, len(stages))
        if draw(st.booleans())
    )
    return Pipeline(tuple(stages), edges, project=draw(KEYS))


@pytest.fixture(scope="module")
def mermaid() -> Iterator[MermaidServer]:
    server = MermaidServer()
    yield server
    server.close()


def _call_args(tree: ast.AST, func: str) -> Iterator[list[object]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == func:
            yield [ast.literal_eval(a) for a in node.args]


@SETTINGS
@given(pipelines())
def test_airflow_literals_are_exact(pipe: Pipeline) -> None:
    text = get_backend("airflow").render(pipe, ExportOptions(repo_path="/srv/x")).main
    tree = ast.parse(text)  # would fail if a name ended a string literal
    compile(tree, "dag.py", "exec")
    stages = {args[1]: args[0] for args in _call_args(tree, "_stage")}
    assert set(stages) == {s.address for s in pipe.stages}
    assert len(set(stages.values())) == len(stages)
    for task_id in stages.values():
        assert isinstance(task_id, str) and len(task_id) <= 250
        assert all(c.isalnum() and c.isascii() or c in "_.-" for c in task_id), task_id
    # the only module-level statements are ours: imports, assignments, defs, the DAG
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {
        "Expr",
        "ImportFrom",
        "Import",
        "Try",
        "Assign",
        "ClassDef",
        "FunctionDef",
        "With",
    }, kinds


@SETTINGS
@given(pipelines())
def test_json_round_trips(pipe: Pipeline) -> None:
    doc = json.loads(get_backend("json").render(pipe, ExportOptions()).main)
    assert [s["address"] for s in doc["stages"]] == [s.address for s in pipe.stages]
    assert [s["cmd"] for s in doc["stages"]] == [list(s.cmd) for s in pipe.stages]
    assert [tuple(e) for e in doc["edges"]] == list(pipe.edges)


@SETTINGS
@given(pipe=pipelines(), view=st.sampled_from(["dag", "levels"]), md=st.booleans())
def test_mermaid_parses_and_shows_real_names(
    pipe: Pipeline, view: str, md: bool, mermaid: MermaidServer
) -> None:
    text = get_backend("mermaid").render(pipe, ExportOptions(view=view, md=md)).main
    result = mermaid.check(text)
    assert result["ok"], (result.get("error"), text)
    labels = result["labels"]
    assert isinstance(labels, dict)
    assert {v for k, v in labels.items() if k.startswith("s_")} == {s.address for s in pipe.stages}


@SETTINGS
@given(pipelines())
def test_snakefile_parses_and_carries_exact_addresses(pipe: Pipeline) -> None:
    """Snakemake's own parser turns the Snakefile into Python; every rule's
    `stage` param must evaluate to the address, braces and quotes intact."""
    from snakemake.parser import parse

    text = get_backend("snakemake").render(pipe, ExportOptions()).main
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Snakefile"
        path.write_text(text)
        from snakemake.sourcecache import LocalSourceFile

        python, _ = parse(LocalSourceFile(str(path)), _FakeWorkflow(), {})  # type: ignore[arg-type]
    tree = ast.parse(python)
    compile(tree, "Snakefile", "exec")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "stage":
            value = node.value
            if isinstance(value, ast.Lambda):  # braces would be read as wildcards
                value = value.body
            found.add(ast.literal_eval(value))
    assert found == {s.address for s in pipe.stages}


class _FakeWorkflow:
    """What snakemake.parser reads from a workflow: a source cache to open files."""

    class sourcecache:  # noqa: N801 - mirrors the attribute name Snakemake uses
        @staticmethod
        def open(source: object) -> object:
            return open(source.get_path_or_uri(secret_free=True), encoding="utf-8")  # type: ignore[attr-defined]


def test_shell_quoting_of_addresses() -> None:
    """`{params.stage:q}` is shlex.quote: the shell sees exactly the address."""
    for key in ["it's", 'say "hi"', "$(touch pwned)", "`id`", "{x}", "a b", "größe", "a;b"]:
        quoted = shlex.quote(f"w@{key}")
        assert shlex.split(f"dvc repro --single-item {quoted}")[-1] == f"w@{key}"
