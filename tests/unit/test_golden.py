"""Byte-for-byte golden outputs for every backend on every golden case.

On a mismatch the test prints a unified diff and the refresh command:
    .venv/bin/python -m pytest tests/unit/test_golden.py --update-golden
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
from conftest import GOLDEN
from golden_cases import cases, materialize, tree, variants

from paraffin_export.backends import get_backend
from paraffin_export.export import ExportRequest, prepare
from paraffin_export.selection import Mode

REFRESH = ".venv/bin/python -m pytest tests/unit/test_golden.py --update-golden"


def render_variant(root: Path, args: list[str]) -> dict[str, str]:
    """What `paraffin export ARGS` writes at the DVC root, relative to the root."""
    from paraffin_export.backends.base import ExportOptions

    backend = get_backend(args[0])
    flags = dict(zip(args[1::2], args[2::2], strict=True))
    options = ExportOptions(
        view=flags.get("--view", "dag"),
        repo_path=flags.get("--repo-path"),
    )
    request = ExportRequest(backend=backend, options=options, start=root, mode=Mode.UPSTREAM)
    files = prepare(request)
    assert not isinstance(files, str)
    return {p.relative_to(root).as_posix(): text for p, text in files}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    made: dict[str, Path] = {}

    def get(case: str) -> Path:
        if case not in made:
            made[case] = materialize(case, tmp_path_factory.mktemp("golden"))
        return made[case]

    return get


@pytest.mark.parametrize("variant", sorted(variants()))
@pytest.mark.parametrize("case", cases())
def test_golden(case: str, variant: str, project, update_golden: bool) -> None:  # type: ignore[no-untyped-def]
    actual = render_variant(project(case), variants()[variant])
    expected_dir = GOLDEN / case / "expected" / variant
    if update_golden:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for rel, text in actual.items():
            (expected_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / rel).write_text(text, encoding="utf-8")
        return
    expected = dict(tree(expected_dir)) if expected_dir.is_dir() else {}
    if actual != expected:
        diff = []
        for rel in sorted(set(actual) | set(expected)):
            diff += difflib.unified_diff(
                expected.get(rel, "").splitlines(keepends=True),
                actual.get(rel, "").splitlines(keepends=True),
                fromfile=f"golden/{case}/expected/{variant}/{rel}",
                tofile=f"{rel} (now)",
            )
        pytest.fail(f"golden mismatch; refresh with:\n    {REFRESH}\n\n{''.join(diff)}")


def test_golden_json_follows_the_schema() -> None:
    import json

    import jsonschema

    schema_path = Path(__file__).parents[2] / "paraffin_export" / "schema" / "ir-v1.schema.json"
    schema = json.loads(schema_path.read_text())
    files = sorted(GOLDEN.glob("*/expected/json/pipeline.json"))
    assert files
    for path in files:
        jsonschema.validate(json.loads(path.read_text()), schema)
