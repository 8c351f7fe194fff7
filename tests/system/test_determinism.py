"""Same project, byte-identical output for every backend: across runs,
PYTHONHASHSEED values and checkout paths."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, tool_env
from golden_cases import materialize

from paraffin_export.backends import REGISTRY

FIXED = {"airflow": ["--repo-path", "/srv/project"]}


@pytest.mark.parametrize("case", ["hostile", "labels"])
def test_byte_identical_everywhere(case: str, tmp_path: Path) -> None:
    first = materialize(case, tmp_path / "a")
    second = tmp_path / "b" / "elsewhere" / first.name
    shutil.copytree(first, second)
    for backend in sorted(REGISTRY):
        outputs = {}
        for seed, root in [("0", first), ("4242", first), ("99", second)]:
            # inside the root, one place per backend: a file's location relative to the
            # root is content (its `root=`, the export command a stale file prints)
            out = root / f"out-{backend}"
            shutil.rmtree(out, ignore_errors=True)
            args = ["export", backend, "-o", f"{out}/", *FIXED.get(backend, [])]
            proc = subprocess.run(
                [str(BIN / "paraffin"), *args],
                cwd=root,
                capture_output=True,
                text=True,
                env=tool_env(PYTHONHASHSEED=seed),
            )
            assert proc.returncode == 0, (backend, proc.stderr)
            files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")}
            assert files, backend
            outputs[seed] = files
        assert outputs["0"] == outputs["4242"] == outputs["99"], backend
        for content in outputs["0"].values():
            assert str(tmp_path).encode() not in content, backend
