"""Target selection like `dvc repro`: addresses, groups, files, globs, closures."""

from __future__ import annotations

import pytest

from paraffin_export.errors import SelectionError
from paraffin_export.ir import Pipeline, Stage
from paraffin_export.selection import Mode, resolve_target, select


def _pipe() -> Pipeline:
    def st(address: str, group: str | None = None) -> Stage:
        dvcfile = address.split(":")[0] if ":" in address else "dvc.yaml"
        return Stage(address, address, dvcfile, ".", ("true",), group=group)

    stages = (
        st("prep"),
        st("train@a", "train"),
        st("train@b", "train"),
        st("sub/dvc.yaml:eval", None),
        st("report"),
        st("other"),
    )
    edges = (
        ("prep", "train@a"),
        ("prep", "train@b"),
        ("train@a", "sub/dvc.yaml:eval"),
        ("sub/dvc.yaml:eval", "report"),
    )
    return Pipeline(stages, edges)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("prep", ["prep"]),
        ("train", ["train@a", "train@b"]),
        ("train@*", ["train@a", "train@b"]),
        ("sub/dvc.yaml", ["sub/dvc.yaml:eval"]),
        ("sub/dvc.yaml:*", ["sub/dvc.yaml:eval"]),
        ("sub:eval", ["sub/dvc.yaml:eval"]),
        ("./sub/dvc.yaml:eval", ["sub/dvc.yaml:eval"]),
        ("dvc.yaml:prep", ["prep"]),
        ("dvc.yaml", ["prep", "train@a", "train@b", "report", "other"]),
    ],
)
def test_resolve(target: str, expected: list[str]) -> None:
    assert resolve_target(_pipe(), target) == expected


def test_unknown_target_suggests() -> None:
    with pytest.raises(SelectionError) as info:
        resolve_target(_pipe(), "trian")
    assert "unknown target 'trian'" in str(info.value)
    assert "did you mean 'train'" in str(info.value)


def test_glob_without_match() -> None:
    with pytest.raises(SelectionError, match="glob 'x\\*' matches no stage"):
        resolve_target(_pipe(), "x*")


def test_modes() -> None:
    pipe = _pipe()
    up = select(pipe, ["sub/dvc.yaml:eval"])
    assert [s.address for s in up.stages] == ["prep", "train@a", "sub/dvc.yaml:eval"]
    assert up.edges == (("prep", "train@a"), ("train@a", "sub/dvc.yaml:eval"))
    single = select(pipe, ["sub/dvc.yaml:eval"], Mode.SINGLE)
    assert [s.address for s in single.stages] == ["sub/dvc.yaml:eval"] and single.edges == ()
    down = select(pipe, ["train@a"], Mode.DOWNSTREAM)
    assert [s.address for s in down.stages] == ["train@a", "sub/dvc.yaml:eval", "report"]
    assert select(pipe, []) is pipe
