"""The catalogue of bad input: exit 2, one clear message naming the file (and
line where YAML/DVC gives one) and the stage or key, no traceback, and an
existing output file left byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import init_dvc_repo, paraffin

A = "  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
CASES: dict[str, tuple[dict[str, str], list[str], str]] = {
    "broken YAML": (
        {"dvc.yaml": "stages:\n  a:\n    cmd: [echo\n"},
        [],
        r"^error: dvc\.yaml:\d+: invalid YAML",
    ),
    "stage without cmd": (
        {"dvc.yaml": "stages:\n  a:\n    outs: [a.txt]\n"},
        [],
        r"^error: dvc\.yaml:[23]: stage 'a': required key not provided \(at cmd\)",
    ),
    "unknown key": (
        {"dvc.yaml": "stages:\n  a:\n    cmd: echo\n    outz: [a.txt]\n"},
        [],
        r"^error: dvc\.yaml:\d+: stage 'a': extra keys not allowed \(at outz\)",
    ),
    "cycle": (
        {
            "dvc.yaml": "stages:\n"
            "  a:\n    cmd: echo\n    deps: [b.txt]\n    outs: [a.txt]\n"
            "  b:\n    cmd: echo\n    deps: [a.txt]\n    outs: [b.txt]\n"
        },
        [],
        r"^error: dvc\.yaml:\d+: stage '[ab]': dependencies form a cycle: '(a|b)' -> '(a|b)' -> ",
    ),
    "same output twice": (
        {"dvc.yaml": "stages:\n" + A + "  b:\n    cmd: echo\n    outs: [a.txt]\n"},
        [],
        r"^error: dvc\.yaml:5: stage 'b': output 'a\.txt' is written by both 'a' and 'b'",
    ),
    "overlapping outputs": (
        {
            "dvc.yaml": "stages:\n  a:\n    cmd: echo\n    outs: [data]\n"
            "  b:\n    cmd: echo\n    outs: [data/part.csv]\n"
        },
        [],
        r"^error: dvc\.yaml:5: stage 'b': output 'data/part\.csv' of 'b' lies inside "
        r"output 'data' of 'a'",
    ),
    "undefined variable": (
        {"dvc.yaml": "stages:\n  a:\n    cmd: echo ${undefined.var}\n"},
        [],
        r"^error: dvc\.yaml:3: stage 'a': Could not find 'undefined\.var'",
    ),
    "missing params file": (
        {"dvc.yaml": "stages:\n  a:\n    cmd: echo\n    params: [{nope.yaml: [x]}]\n"},
        [],
        r"^error: dvc\.yaml:2: stage 'a': params file 'nope\.yaml' does not exist",
    ),
    "missing vars file": (
        {"dvc.yaml": "vars: [nope.yaml]\nstages:\n  a:\n    cmd: echo\n"},
        [],
        r"^error: dvc\.yaml.*nope\.yaml",
    ),
    "foreach over a scalar": (
        {"dvc.yaml": "stages:\n  a:\n    foreach: 3\n    do:\n      cmd: echo ${item}\n"},
        [],
        r"^error: dvc\.yaml:\d+: stage 'a.*foreach",
    ),
    "unknown target": ({"dvc.yaml": "stages:\n" + A}, ["b"], r"^error: unknown target 'b'"),
    "typo target": (
        {"dvc.yaml": "stages:\n" + A.replace("a:", "train:")},
        ["trian"],
        r"^error: unknown target 'trian'\n  hint: did you mean 'train'\?",
    ),
    "glob without match": (
        {"dvc.yaml": "stages:\n" + A},
        ["x*"],
        r"^error: glob 'x\*' matches no stage",
    ),
    "paraffin.yaml not a mapping": (
        {"dvc.yaml": "stages:\n" + A, "paraffin.yaml": "- a\n"},
        [],
        r"^error: paraffin\.yaml:1: the top level must be a mapping",
    ),
    "paraffin.yaml unknown key": (
        {"dvc.yaml": "stages:\n" + A, "paraffin.yaml": "stages:\n  a:\n    memory: 3\n"},
        [],
        r"^error: paraffin\.yaml:3: unknown key in 'a' 'memory'",
    ),
    "paraffin.yaml wrong type": (
        {"dvc.yaml": "stages:\n" + A, "paraffin.yaml": "stages:\n  a:\n    retries: often\n"},
        [],
        r"^error: paraffin\.yaml:3: 'a': retries must be an integer",
    ),
    "broken params.yaml": (
        {
            "dvc.yaml": "stages:\n  a:\n    cmd: echo\n    params: [lr]\n",
            "params.yaml": "lr: 1\nbad: [1, 2\nx: 3\n",
        },
        [],
        r"^error: params\.yaml:3: invalid YAML: expected ',' or '\]'",
    ),
    "broken vars file": (
        {
            "dvc.yaml": "vars:\n  - hyper.yaml\nstages:\n  a:\n    cmd: echo ${lr}\n",
            "hyper.yaml": "lr: 1\nopt:\n  - a\n  b: 2\n",
        },
        [],
        r"^error: hyper\.yaml:4: invalid YAML",
    ),
    "paraffin.yaml bad limit": (
        {"dvc.yaml": "stages:\n" + A, "paraffin.yaml": "stages:\n  a:\n    limit: 0\n"},
        [],
        r"^error: paraffin\.yaml:3: 'a': limit must be an integer >= 1",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case: str, tmp_path: Path) -> None:
    import re

    files, targets, pattern = CASES[case]
    root = init_dvc_repo(tmp_path / "proj", files)
    out = tmp_path / "existing.json"
    out.write_bytes(b"OLD CONTENT\n")
    result = paraffin("export", "json", "-C", root, "-o", out, *targets)
    assert result.code == 2, (result.stdout, result.stderr)
    assert re.search(pattern, result.stderr), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2
    assert out.read_bytes() == b"OLD CONTENT\n"


def test_not_inside_a_project(tmp_path: Path) -> None:
    result = paraffin("export", "json", "-C", tmp_path, "-o", "-")
    assert result.code == 2 and result.stderr.startswith("error: not inside a DVC project")
