"""The built wheel carries its templates: install it in a fresh venv and export."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def test_wheel_installs_and_exports(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("paraffin_export-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "paraffin_export/templates/mermaid/flowchart.mmd.j2" in names
    assert "paraffin_export/runtime/job.sh" in names  # the paraffin runner's job
    assert not any(n.startswith(("tests/", "golden/")) for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=900)

    demo = tmp_path / "demo"
    shutil.copytree(REPO / "examples" / "demo", demo)
    subprocess.run(["git", "init", "-q"], cwd=demo, check=True)
    proc = subprocess.run(
        [str(venv / "bin" / "paraffin"), "export", "mermaid", "--view", "levels", "-o", "-"],
        cwd=demo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert '["train@forest"]' in proc.stdout
    # the installed package must not be reading templates from this checkout
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import paraffin_export.render as r; print(r.templates_dir())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert where.startswith(str(venv)), where
