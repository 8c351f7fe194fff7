"""`paraffin run` gives stage commands exactly the environment `dvc repro` would.

Laid out as pipx does it: paraffin-export (with dvc and snakemake) in a tool venv
whose bin/ is NOT on PATH, only its `paraffin` linked from a bin folder that is;
the project's own venv first on PATH, holding a module nothing else has. A stage
records `command -v python`, imports that module and records $PATH. Paraffin must
find its own programs by absolute path, never by putting the tool venv on PATH
(docs/environment.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import BIN, init_dvc_repo, run, tool_env

DVC_YAML = """\
stages:
  probe:
    cmd: >-
      command -v python > python.txt &&
      python -c "import onlyproject; print(onlyproject.WHERE)" > imported.txt &&
      printf '%s\\n' "$PATH" > path.txt
    outs: [python.txt, imported.txt, path.txt]
"""
OUTS = ("python.txt", "imported.txt", "path.txt")


def _project_venv(where: Path) -> Path:
    """A venv with a module only it has (no pip needed: one file in site-packages)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", where], check=True)
    purelib = subprocess.run(
        [where / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "onlyproject.py").write_text("WHERE = 'project venv'\n")
    return where / "bin"


def _user_env(tmp_path: Path) -> dict[str, str]:
    """PATH as a pipx user has it: project venv, then ~/.local/bin, then the system."""
    local_bin = tmp_path / "local-bin"
    local_bin.mkdir()
    (local_bin / "paraffin").symlink_to(BIN / "paraffin")  # what `pipx install` links
    project_bin = _project_venv(tmp_path / "project-venv")
    env = tool_env()
    env["PATH"] = os.pathsep.join([str(project_bin), str(local_bin), "/usr/bin", "/bin"])
    env["VIRTUAL_ENV"] = str(project_bin.parent)
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.parametrize("runner", ["paraffin", "dvc"])
def test_stages_see_the_environment_dvc_repro_gives_them(runner: str, tmp_path: Path) -> None:
    env = _user_env(tmp_path)
    files = {"dvc.yaml": DVC_YAML, ".gitignore": ".snakemake/\n"}
    ours = init_dvc_repo(tmp_path / "ours", files)
    twin = init_dvc_repo(tmp_path / "twin", files)
    run([str(BIN / "dvc"), "repro"], twin, env=env)
    assert (twin / "imported.txt").read_text() == "project venv\n"

    result = run(["paraffin", "run", "-j", "2", "--runner", runner], ours, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in OUTS:
        assert (ours / name).read_text() == (twin / name).read_text(), name
    assert (ours / "python.txt").read_text().strip() == str(tmp_path / "project-venv/bin/python")
    lock, twin_lock = (yaml.safe_load((p / "dvc.lock").read_text()) for p in (ours, twin))
    assert lock == twin_lock
