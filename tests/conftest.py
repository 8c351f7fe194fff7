"""Shared fixtures: real git + DVC repositories in temp dirs, and the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from slurm_cluster import slurm_cluster  # noqa: F401 - session fixture

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "golden"
CORPUS = REPO / "tests" / "corpus"  # vendored: real public pipelines, see its README
BIN = Path(sys.executable).parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite golden/*/expected/ from the current output instead of diffing",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The folder says what a test needs: tests/unit/ runs no workflow engine
    and stays under a minute in all; tests/system/ runs no workflow engine
    either, but drives DVC, the CLI, Node's mermaid parser or pre-commit many
    times over (differential, concurrency, determinism and property tests);
    tests/engine/ runs real Snakemake, Airflow or SLURM. `-m "not engine"` and
    `-m "not system"` deselect them."""
    for item in items:
        folder = item.path.relative_to(REPO / "tests").parts[:1]
        if "engine" in folder:
            item.add_marker(pytest.mark.engine)
        elif "system" in folder:
            item.add_marker(pytest.mark.system)


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def run(
    cmd: list[str],
    cwd: Path,
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``check``, fail the test with its output when it fails."""
    proc = subprocess.run(
        cmd, cwd=cwd, text=True, capture_output=True, env=dict(env or tool_env()), timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{cmd} failed ({proc.returncode}) in {cwd}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def tool_env(**extra: str) -> dict[str, str]:
    """Environment with this venv's `dvc`, `snakemake` and `paraffin` first on PATH,
    and git identity set, so subprocesses use the versions under test."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("GIT_AUTHOR_NAME", "test")
    env.setdefault("GIT_AUTHOR_EMAIL", "test@example.com")
    env.setdefault("GIT_COMMITTER_NAME", "test")
    env.setdefault("GIT_COMMITTER_EMAIL", "test@example.com")
    env["DVC_NO_ANALYTICS"] = "1"
    env.update(extra)
    return env


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def init_dvc_repo(root: Path, files: Mapping[str, str] = {}, subdir: str = ".") -> Path:
    """git init + dvc init (with --subdir when the DVC root is not the git root),
    write ``files`` and commit them. Returns the DVC root."""
    root.mkdir(parents=True, exist_ok=True)
    run(["git", "init", "-q", "-b", "main"], root)
    dvc_root = root / subdir
    dvc_root.mkdir(parents=True, exist_ok=True)
    _dvc_init(dvc_root, subdir=subdir != ".")
    write_files(root, files)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", "init"], root)
    return dvc_root


def _dvc_init(dvc_root: Path, *, subdir: bool) -> None:
    """`dvc init [--subdir]` and `dvc config core.analytics false`, in this
    process: as two `dvc` processes they cost about a second of CPU per repo."""
    from dvc.repo import Repo

    with Repo.init(os.fspath(dvc_root), subdir=subdir) as repo:
        with repo.config.edit() as conf:
            conf["core"]["analytics"] = False


@pytest.fixture
def dvc_repo(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``dvc_repo({"dvc.yaml": ...}, name="proj")`` -> DVC root."""

    def make(files: Mapping[str, str] = {}, name: str = "proj", subdir: str = ".") -> Path:
        return init_dvc_repo(tmp_path / name, files, subdir)

    return make


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def paraffin(*args: str | os.PathLike[str]) -> CliResult:
    """Run the CLI in-process (fast) and capture what a user would see."""
    from paraffin_export.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([os.fspath(a) for a in args])
    return CliResult(code, out.getvalue(), err.getvalue())
