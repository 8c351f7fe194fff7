"""Usage errors and help: a short message and exit 2, never a traceback.

Written against what every typer in the supported range prints (see
pyproject.toml): the messages checked are click's own wording, which typer's
vendored copy (typer 0.29: `typer._click`) keeps, and ours.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import BIN, paraffin, tool_env

# (arguments, fragments the message must hold): click 8.1 says "No such
# option: --bogus", click 8.5 "No such option '--bogus'"
USAGE_ERRORS: list[tuple[list[str], tuple[str, ...]]] = [
    ([], ("Usage: paraffin",)),
    (["bogus"], ("No such command 'bogus'",)),
    (["exprt", "snakemake"], ("No such command 'exprt'",)),
    (["--bogus"], ("No such option", "--bogus")),
    (["export"], ("Missing argument",)),
    (["export", "snakemake", "--bogus"], ("No such option", "--bogus")),
    (["export", "json", "-o"], ("requires an argument",)),
    (["export", "airflow", "--max-active-tasks", "many"], ("Invalid value",)),
    (["export", "json", "--view", "levels"], ("--view not used by the 'json' backend",)),
    (["export", "json", "a", "--single-item", "--downstream"], ("exclude each other",)),
    (["export", "json", "--check", "-o", "-"], ("--check needs a file",)),
    (["run", "--single-item", "B"], ("No such option", "--single-item")),
    (["run", "-j", "many"], ("Invalid value",)),
    (["run", "-j", "0"], ("-j/--jobs must be at least 1",)),
    (["run", "--runner"], ("requires an argument",)),
    (["run", "--snakemake-args", "'--executor"], ("No closing quotation",)),
    (["stale", "extra"], ("extra argument",)),
    (["stale", "-C"], ("requires an argument",)),
    (["--debug"], ("Usage: paraffin",)),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS, ids=lambda v: repr(v))
def test_usage_error_is_one_message_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)  # no DVC project: the error comes first
    result = paraffin(*args)
    assert result.code == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in message:
        assert fragment in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args", [["--help"], ["export", "--help"], ["run", "--help"], ["stale", "--help"]]
)
def test_help_exits_0_without_placeholders(args: list[str]) -> None:
    result = paraffin(*args)
    assert result.code == 0, result
    assert result.stdout.startswith("Usage: paraffin"), result.stdout
    # typer 0.29 tags parameters with their Python type (`<bool>`, `<list[str]>`)
    for bad in ("<bool>", "<str>", "<list[", "see the list above", "Traceback", "\\["):
        assert bad not in result.stdout


def test_root_help_lists_commands_and_debug() -> None:
    text = paraffin("--help").stdout
    for word in ("export", "stale", "run", "--version", "--debug"):
        assert word in text, word


def test_export_help_lists_every_option_of_every_backend() -> None:
    text = paraffin("export", "--help").stdout
    for option in ("--view", "--md", "--repo-path", "--dag-id", "--runner", "--profile", "-q"):
        assert option in text, option


def test_version_alone() -> None:
    from paraffin_export import __version__

    result = paraffin("--version")
    assert result.code == 0, result
    assert result.stdout == f"paraffin-export {__version__}\n"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--version"],
        ["bogus"],
        ["export"],
        ["export", "snakemake", "--bogus"],
        ["run", "--single-item", "B"],
    ],
)
def test_console_script_never_shows_a_traceback(tmp_path: Path, args: list[str]) -> None:
    """The installed entry point, as a user (and the project's stop hook) types it."""
    proc = subprocess.run(
        [str(BIN / "paraffin"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    assert proc.returncode == (0 if args == ["--version"] else 2), proc
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.splitlines()) <= 25, proc.stderr
