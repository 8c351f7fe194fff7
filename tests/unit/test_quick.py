"""The console script's quick path (issue 18): `paraffin stale` and
`paraffin export` of an unchanged project answer without importing the CLI,
typer, pydantic, DVC, jinja2 (stale) or rich, and answer exactly what the full CLI
answers; anything else goes to the full CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIN, init_dvc_repo, paraffin, run

from paraffin_export import quick

DVC_YAML = """\
stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
"""
HEAVY = ("typer", "click", "pydantic", "dvc", "rich", "snakemake")
PROBE = """\
import json, sys
from paraffin_export.quick import answer
code = answer(json.loads(sys.argv[1]))
print(json.dumps([code, sorted({m.split(".")[0] for m in sys.modules})]))
"""


def cached_project(root: Path) -> Path:
    """A reproduced project whose IR and status are cached."""
    init_dvc_repo(root, {"dvc.yaml": DVC_YAML})
    run([str(BIN / "dvc"), "repro", "-q"], root)
    for _ in range(2):  # the first loads the IR through DVC, the second records the status
        assert paraffin("stale", "-C", root).code == 0
    return root


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the tests that change nothing the caches watch."""
    return cached_project(tmp_path_factory.mktemp("quick") / "p")


def probe(args: list[str], cwd: Path) -> tuple[int | None, set[str]]:
    """``quick.answer(args)`` in a fresh interpreter: its code and the top-level
    modules it imported."""
    proc = run([sys.executable, "-c", PROBE, json.dumps(args)], cwd)
    code, modules = json.loads(proc.stdout.splitlines()[-1])
    return code, set(modules)


def test_stale_of_an_unchanged_project_imports_no_cli_and_no_dvc(clean: Path) -> None:
    code, modules = probe(["stale"], clean)
    assert code == 0
    assert not modules & {*HEAVY, "jinja2", "yaml"}


def test_export_of_an_unchanged_project_imports_no_cli_and_no_dvc(clean: Path) -> None:
    code, modules = probe(["export", "snakemake", "-o", "Snakefile"], clean)
    assert code == 0
    assert not modules & set(HEAVY)


def test_quick_answers_are_the_full_clis(clean: Path) -> None:
    """Same files, same messages, same exit codes as `cli.main`."""
    snakefile = ["-o", str(clean / "S1"), "--runner=dvc"]
    for args in (["export", "snakemake", *snakefile], ["export", "json", "-q"]):
        args += ["-C", str(clean)]
        full = paraffin(*args)  # cli.main: never the quick path
        written = {p.name: p.read_bytes() for p in clean.iterdir() if p.is_file()}
        fast = subprocess.run(
            [str(BIN / "paraffin"), *args], cwd=Path.cwd(), capture_output=True, text=True
        )
        assert (fast.returncode, fast.stdout, fast.stderr) == (full.code, full.stdout, full.stderr)
        assert {p.name: p.read_bytes() for p in clean.iterdir() if p.is_file()} == written
    stale = subprocess.run([str(BIN / "paraffin"), "stale", "-0"], cwd=clean, capture_output=True)
    assert b"wrote" not in stale.stderr
    assert (stale.returncode, stale.stdout) == (0, b"")


def test_a_changed_project_goes_to_the_full_cli(tmp_path: Path) -> None:
    clean = cached_project(tmp_path / "p")
    assert quick.answer(["stale", "-C", str(clean)]) == 0
    (clean / "a.txt").write_text("changed\n")
    assert quick.answer(["stale", "-C", str(clean)]) is None
    (clean / "dvc.yaml").write_text(DVC_YAML.replace("echo a", "echo A"))
    assert quick.answer(["export", "json", "-C", str(clean), "-o", "-"]) is None


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["run"],
        ["stale", "--expect", "{}"],
        ["stale", "--debug"],
        ["stale", "extra"],
        ["export"],
        ["export", "json", "target"],
        ["export", "json", "--check"],
        ["export", "json", "-o"],
        ["export", "json", "--runner", "dvc"],  # not a json option: the CLI says so
        ["export", "nope"],
        ["export", "json", "-oFILE"],
        ["--help"],
    ],
)
def test_other_forms_go_to_the_full_cli(clean: Path, args: list[str]) -> None:
    assert quick.answer([*args[:1], "-C", str(clean), *args[1:]] if args else args) is None


def test_parse_reads_values_after_the_option_or_an_equals_sign() -> None:
    known = quick.EXPORT
    assert quick.parse(["json", "-o", "-", "--runner=dvc", "-q"], known) == (
        ["json"],
        {"output": "-", "runner": "dvc", "quiet": True},
    )
    assert quick.parse(["--quiet=yes"], known) is None
    assert quick.parse(["--runner"], known) is None


def test_the_console_script_starts_at_the_quick_path() -> None:
    script = (BIN / "paraffin").read_text()
    # a venv installed before pyproject.toml named quick:main: run tests/setup.sh again
    assert "from paraffin_export.quick import main" in script, "reinstall: bash tests/setup.sh"
