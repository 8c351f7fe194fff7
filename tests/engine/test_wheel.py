"""The built wheel carries its templates: install it with its `snakemake` extra in
a fresh venv, as the README's install says, and run the README's Quick start from
that venv (export, `snakemake -j 2`, a no-op rerun). pip resolves from its cache
and the registries configured on the machine."""

from __future__ import annotations

import os
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
    subprocess.run([*pip, f"{wheel}[snakemake]"], check=True, capture_output=True, timeout=900)

    demo = tmp_path / "demo"
    shutil.copytree(REPO / "examples" / "demo", demo)
    subprocess.run(["git", "init", "-q"], cwd=demo, check=True)
    quick_start(venv, demo)
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


def quick_start(venv: Path, project: Path) -> None:
    """The README's Quick start, in a shell whose PATH has the venv first (an
    activated venv) and nothing of this checkout's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["DVC_NO_ANALYTICS"] = "1"

    def sh(command: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
        return proc

    exported = sh("paraffin export snakemake")
    assert exported.stderr == "paraffin: wrote Snakefile (6 rules)\n"
    first = sh("snakemake -j 2")
    assert "6 stages to run: 6 ran" in first.stderr, first.stderr
    assert sh("dvc status -q").returncode == 0  # dvc.lock as `dvc repro` leaves it
    again = sh("snakemake -j 2")
    assert "DVC reports 0 of 6 stages to run" in again.stderr, again.stderr
    rerun = sh("paraffin run -j 2")
    assert "DVC reports 0 of 6 stages to run" in rerun.stderr + rerun.stdout
