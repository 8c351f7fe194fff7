"""The CLI: exit codes, --check, atomic writes, output locations, clear errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, paraffin, tool_env

CHAIN = """stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
"""


@pytest.fixture
def root(dvc_repo) -> Path:  # type: ignore[no-untyped-def]
    return dvc_repo({"dvc.yaml": CHAIN, "sub/keep.txt": "x"})


def test_help_lists_every_backend() -> None:
    from paraffin_export.backends import REGISTRY

    result = paraffin("export", "--help")
    assert result.code == 0
    for name in REGISTRY:
        assert name in result.stdout


def test_default_output_at_the_dvc_root(root: Path) -> None:
    result = paraffin("export", "json", "-C", root / "sub")
    assert result.code == 0, result.stderr
    assert (root / "pipeline.json").is_file()
    assert not (root / "sub" / "pipeline.json").exists()


def test_output_directory_and_stdout(root: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert paraffin("export", "mermaid", "-C", root, "-o", out_dir).code == 0
    assert (out_dir / "pipeline.mmd").read_text().startswith("flowchart TD\n")
    assert paraffin("export", "mermaid", "-C", root, "-o", f"{tmp_path}/new/").code == 0
    assert (tmp_path / "new" / "pipeline.mmd").is_file()
    result = paraffin("export", "mermaid", "-C", root, "-o", "-")
    assert result.stdout.startswith("flowchart TD\n")


def test_check_detects_missing_stale_and_fresh(root: Path) -> None:
    target = root / "pipeline.json"
    missing = paraffin("export", "json", "-C", root, "--check")
    assert missing.code == 1 and "(missing)" in missing.stdout and not target.exists()
    assert paraffin("export", "json", "-C", root).code == 0
    assert paraffin("export", "json", "-C", root, "--check").code == 0
    (root / "dvc.yaml").write_text(CHAIN.replace("echo a", "echo A"))
    stale = paraffin("export", "json", "-C", root, "--check")
    assert stale.code == 1
    removed = [ln for ln in stale.stdout.splitlines() if ln.startswith("-    ")]
    added = [ln for ln in stale.stdout.splitlines() if ln.startswith("+    ")]
    assert len(removed) == len(added) == 1
    assert '"echo a > a.txt"' in removed[0] and '"echo A > a.txt"' in added[0]
    assert '"echo a > a.txt"' in target.read_text(), "--check must not write"


def test_failed_export_leaves_the_old_file(root: Path) -> None:
    target = root / "pipeline.json"
    assert paraffin("export", "json", "-C", root).code == 0
    before = target.read_bytes()
    (root / "dvc.yaml").write_text(CHAIN + "  c:\n    cmd: echo\n    outs: [a.txt]\n")
    result = paraffin("export", "json", "-C", root)
    assert result.code == 2
    assert result.stderr.startswith(
        "error: dvc.yaml:9: stage 'c': output 'a.txt' is written by both"
    )
    assert target.read_bytes() == before


def test_unwritable_output(root: Path) -> None:
    blocker = root / "file"
    blocker.write_text("x")
    result = paraffin("export", "json", "-C", root, "-o", blocker / "x.json")
    assert result.code == 2 and "cannot write" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "jsn"], "unknown backend 'jsn'"),
        (["export", "json", "nope"], "unknown target 'nope'"),
        (["export", "json", "--view", "levels"], "--view not used by the 'json' backend"),
        (["export", "json", "a", "--single-item", "--downstream"], "exclude each other"),
        (["export", "json", "--check", "-o", "-"], "--check needs a file"),
        (["export", "mermaid", "--view", "tree", "-o", "-"], "unknown view 'tree'"),
    ],
)
def test_usage_errors_exit_2(root: Path, args: list[str], message: str) -> None:
    result = paraffin(*args, "-C", root)
    assert result.code == 2, result
    assert message in result.stderr and "Traceback" not in result.stderr


def test_did_you_mean(root: Path) -> None:
    result = paraffin("export", "json", "-C", root, "b_")
    assert "did you mean 'b'" in result.stderr or "unknown target" in result.stderr


def test_not_a_project_console_script(tmp_path: Path) -> None:
    """The installed console script: exit 2, one message, no traceback."""
    proc = subprocess.run(
        [str(BIN / "paraffin"), "export", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: not inside a DVC project")
    assert "Traceback" not in proc.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "paraffin"), "--debug", "export", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_targets_and_modes(root: Path) -> None:
    import json

    def addresses(*args: str) -> list[str]:
        result = paraffin("export", "json", "-C", root, "-o", "-", *args)
        assert result.code == 0, result.stderr
        return [s["address"] for s in json.loads(result.stdout)["stages"]]

    assert addresses("b") == ["a", "b"]
    assert addresses("b", "--single-item") == ["b"]
    assert addresses("a", "--downstream") == ["a", "b"]


def test_deterministic_across_hash_seeds_and_paths(root: Path, tmp_path: Path) -> None:
    import shutil

    twin = tmp_path / "elsewhere" / root.name
    shutil.copytree(root, twin)
    outputs = set()
    for seed, where in [("0", root), ("1", root), ("12345", twin)]:
        proc = subprocess.run(
            [str(BIN / "paraffin"), "export", "mermaid", "-o", "-"],
            cwd=where,
            capture_output=True,
            text=True,
            env=tool_env(PYTHONHASHSEED=seed),
        )
        assert proc.returncode == 0, proc.stderr
        outputs.add(proc.stdout)
    assert len(outputs) == 1
    assert os.fspath(tmp_path) not in outputs.pop()


def test_export_says_what_it_wrote(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    result = paraffin("export", "snakemake")
    assert result.code == 0, result.stderr
    assert result.stderr == "paraffin: wrote Snakefile (2 rules)\n"
    result = paraffin("export", "mermaid", "-o", "out/")
    assert result.stderr == "paraffin: wrote out/pipeline.mmd (2 nodes)\n"
    for quiet in (["-q"], ["--quiet"], ["-o", "-"], ["--check"]):
        result = paraffin("export", "snakemake", *quiet)
        assert result.code == 0 and result.stderr == "", (quiet, result.stderr)


def test_run_without_snakemake_names_the_extra(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # Python's own way to make a module unimportable: as if not installed
    monkeypatch.setitem(sys.modules, "snakemake", None)
    result = paraffin("run", "-C", root)
    assert result.code == 2, result
    assert "needs Snakemake" in result.stderr
    assert "pip install 'paraffin-export[snakemake]'" in result.stderr
    assert "Traceback" not in result.stderr
