"""The generated Snakefile's names and literals, without Snakemake: rule names,
the DVC root relative to the Snakefile, Python literals, bad labels."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from snakemake_support import HOSTILE_KEYS

from paraffin_export.backends import get_backend
from paraffin_export.backends.base import ExportOptions
from paraffin_export.backends.snakemake import (
    RESERVED,
    param_literal,
    pystr,
    root_from_snakefile,
    rule_names,
)
from paraffin_export.errors import BackendError
from paraffin_export.ir import Labels, Pipeline, Stage


def _stage(address: str, **kw: object) -> Stage:
    return Stage(address=address, name=address, dvcfile="dvc.yaml", wdir=".", cmd=("true",), **kw)  # type: ignore[arg-type]


def test_rule_names_avoid_python_and_snakemake_names() -> None:
    addresses = ["all", "rule", "input", "output", "params", "log", "shell", "config"]
    addresses += ["workflow", "rules", "checkpoints", "class", "print", "Train", "train"]
    addresses += ["prepare-data", "prepare_data", "sub/dvc.yaml:x", "2x", "ok"]
    pipeline = Pipeline(stages=tuple(_stage(a) for a in addresses))
    names = rule_names(pipeline)
    assert len({n.casefold() for n in names.values()}) == len(addresses)
    for address, name in names.items():
        assert name.isidentifier() and name not in RESERVED, (address, name)
    # legal names stay; of two names equal but for case, the later one changes
    assert names["ok"] == "ok" and names["Train"] == "Train" and names["train"] != "train"


@pytest.mark.parametrize(
    ("output", "root"),
    [
        (None, "."),
        ("Snakefile", "."),
        (".paraffin/Snakefile", ".."),
        ("a/b/Snakefile", "../.."),
        ("../wf/Snakefile", "../proj"),
        ("../../x/y/Snakefile", "../../p/proj"),
    ],
)
def test_root_relative_to_the_snakefile(output: str | None, root: str) -> None:
    pipeline = Pipeline(stages=(_stage("a"),), root="/base/p/proj")
    options = ExportOptions(output=None if output is None else PurePosixPath(output))
    assert root_from_snakefile(pipeline, options) == root


def test_literals_are_python_and_free_of_wildcards() -> None:
    for key in HOSTILE_KEYS:
        assert eval(pystr(key)) == key  # noqa: S307 - the point is Python's own reading
        value = eval(param_literal(key))  # noqa: S307
        assert (value(None) if callable(value) else value) == key
        if "{" in key or "}" in key:
            assert callable(value)


def test_bad_labels_and_runner_are_errors() -> None:
    backend = get_backend("snakemake")
    bad = Pipeline(stages=(_stage("a", labels=Labels(resources=(("mem-mb", 1),))),))
    with pytest.raises(BackendError, match="mem-mb"):
        backend.render(bad, ExportOptions())
    with pytest.raises(BackendError, match="unknown runner"):
        backend.render(Pipeline(stages=(_stage("a"),)), ExportOptions(runner="nope"))
