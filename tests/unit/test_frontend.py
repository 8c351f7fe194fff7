"""The frontend reads projects as DVC does: roots, flags, locks, edges, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run

from paraffin_export.errors import (
    CycleError,
    NotADvcProjectError,
    OutputConflictError,
    ProjectError,
)
from paraffin_export.frontend import find_root, load_pipeline
from paraffin_export.frontend.graph import build_edges, check_outputs, topological_order
from paraffin_export.ir import Out, Stage

CHAIN = """stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
"""


def _st(address: str, deps: tuple[str, ...] = (), outs: tuple[str, ...] = ()) -> Stage:
    return Stage(
        address=address,
        name=address,
        dvcfile="dvc.yaml",
        wdir=".",
        cmd=("true",),
        deps=deps,
        outs=tuple(Out(o) for o in outs),
    )


def test_root_found_from_a_subdirectory(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo({"dvc.yaml": CHAIN, "deep/er/file.txt": "x"})
    assert find_root(root / "deep" / "er") == root.resolve()
    pipe = load_pipeline(root / "deep")
    assert [s.address for s in pipe.stages] == ["a", "b"]


def test_dvc_init_subdir(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo({"inner/dvc.yaml": CHAIN, "outer.txt": "x"}, subdir="inner")
    assert root.name == "inner" and (root.parent / ".git").is_dir()
    assert find_root(root) == root.resolve()
    pipe = load_pipeline(root)
    assert pipe.project == "inner" and pipe.edges == (("a", "b"),)


def test_not_a_dvc_project(tmp_path: Path) -> None:
    with pytest.raises(NotADvcProjectError, match="not inside a DVC project"):
        find_root(tmp_path)


def test_lock_entries_and_flags(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    yaml_text = CHAIN + (
        "  c:\n    cmd: echo c\n    frozen: true\n    always_changed: true\n"
        "    desc: three\n    outs:\n      - c.txt:\n          cache: false\n          persist: true\n"
        "    metrics: [m.json]\n    plots: [{p.csv: {cache: false}}]\n"
    )
    root = dvc_repo({"dvc.yaml": yaml_text})
    run(["dvc", "repro", "a"], root)
    pipe = load_pipeline(root)
    a, b, c = pipe.stages
    assert (a.locked, b.locked, c.locked) == (True, False, False)
    assert c.frozen and c.always_changed and c.desc == "three"
    assert [(o.path, o.kind, o.cache, o.persist) for o in c.outs] == [
        ("c.txt", "out", False, True),
        ("m.json", "metric", True, False),
        ("p.csv", "plot", False, False),
    ]
    status = load_pipeline(root, status=True)
    assert [s.changed for s in status.stages] == [False, True, True]


def test_cycle_names_the_stages() -> None:
    stages = [_st("a", ("c.txt",), ("a.txt",)), _st("b", ("a.txt",), ("b.txt",))]
    stages.append(_st("c", ("b.txt",), ("c.txt",)))
    stages.append(_st("free", (), ("f.txt",)))
    owner = check_outputs(stages, (), ("dvc.yaml",))
    with pytest.raises(CycleError) as info:
        topological_order(stages, build_edges(stages, owner))
    assert sorted(info.value.cycle) == ["a", "b", "c"]
    assert "->" in str(info.value)


def test_self_cycle_like_dvc() -> None:
    stages = [_st("a", ("data/x",), ("data",))]
    with pytest.raises(CycleError, match="'a' -> 'a'"):
        topological_order(stages, build_edges(stages, check_outputs(stages, (), ())))


def test_duplicate_and_overlapping_outputs() -> None:
    dup = [_st("a", outs=("x",)), _st("b", outs=("x",))]
    with pytest.raises(OutputConflictError, match="'x' is written by both 'a' and 'b'"):
        check_outputs(dup, (), ())
    nested = [_st("a", outs=("data",)), _st("b", outs=("data/part",))]
    with pytest.raises(OutputConflictError, match="'data/part' of 'b' lies inside output 'data'"):
        check_outputs(nested, (), ())
    inside = [_st("a", outs=("sub",))]
    with pytest.raises(OutputConflictError, match="'sub/dvc.yaml' lies inside output 'sub'"):
        check_outputs(inside, (), ("sub/dvc.yaml",))


def test_edges_by_path_overlap() -> None:
    stages = [
        _st("dir", outs=("data",)),
        _st("file_in_dir", deps=("data/x.csv",), outs=("y",)),
        _st("deep", outs=("raw/a/b.txt",)),
        _st("whole_dir", deps=("raw",), outs=("z",)),
        _st("remote", deps=("s3://bucket/data",), outs=("r",)),
    ]
    edges = build_edges(stages, check_outputs(stages, (), ()))
    assert edges == {("dir", "file_in_dir"), ("deep", "whole_dir")}


def test_long_chain_is_linear_and_ordered() -> None:
    n = 3000
    stages = [_st(f"s{i}", (f"f{i - 1}",) if i else (), (f"f{i}",)) for i in reversed(range(n))]
    edges = build_edges(stages, check_outputs(stages, (), ()))
    order = [s.address for s in topological_order(stages, edges)]
    assert order == [f"s{i}" for i in range(n)]


def test_dvc_errors_have_file_line_and_stage(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo({"dvc.yaml": "stages:\n  a:\n    cmd: echo ${missing.value}\n"})
    with pytest.raises(ProjectError) as info:
        load_pipeline(root)
    text = str(info.value)
    assert text.startswith("dvc.yaml:3: stage 'a': ") or "dvc.yaml:3: stage 'a'" in text, text
    assert "missing.value" in text
