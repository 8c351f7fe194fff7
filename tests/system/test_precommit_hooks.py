"""The pre-commit hooks users add run our real CLI and fail on a stale file."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import yaml
from conftest import BIN, REPO, tool_env

CHAIN = "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"


def _hook(hook_id: str) -> dict[str, object]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == hook_id]
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    return hook


def _run(hook: dict[str, object], args: list[str], root: Path) -> int:
    entry = shlex.split(str(hook["entry"]))
    assert entry[0] == "paraffin"
    cmd = [str(BIN / "paraffin"), *entry[1:], *args]
    return subprocess.run(cmd, cwd=root, env=tool_env(), capture_output=True).returncode


def test_snakemake_hook(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo({"dvc.yaml": CHAIN})
    hook = _hook("paraffin-export-snakemake")
    assert _run(hook, [], root) == 1  # no Snakefile yet
    subprocess.run([str(BIN / "paraffin"), "export", "snakemake"], cwd=root, check=True)
    assert _run(hook, [], root) == 0
    # the Snakefile names stages, not commands: a new stage makes it stale
    (root / "dvc.yaml").write_text(CHAIN.replace("echo a", "echo b"))
    assert _run(hook, [], root) == 0
    (root / "dvc.yaml").write_text(CHAIN + "  b:\n    cmd: echo b\n")
    assert _run(hook, [], root) == 1


def test_generic_hook_with_backend_args(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo({"dvc.yaml": CHAIN})
    hook = _hook("paraffin-export-check")
    args = ["airflow", "-o", "dags/", "--repo-path", "/srv/p"]
    assert _run(hook, args, root) == 1
    subprocess.run([str(BIN / "paraffin"), "export", *args], cwd=root, check=True)
    assert _run(hook, args, root) == 0
