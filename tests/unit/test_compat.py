"""Declared DVC range = the range checked at run time = what CI tests; outside it,
or without a DVC internal the runner needs, one line and exit 2, before DVC runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import REPO, init_dvc_repo, paraffin
from lowest_pins import lowest_pins

from paraffin_export import compat


@pytest.fixture(autouse=True)
def _fresh_check():  # type: ignore[no-untyped-def]
    compat.require_supported_dvc.cache_clear()
    yield
    compat.require_supported_dvc.cache_clear()


def test_declared_range_is_the_checked_range() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert compat.DVC_SPEC in deps
    low, high = compat.DVC_RANGE
    assert compat.DVC_SPEC == f"dvc>={low[0]}.{low[1]},<{high[0]}"
    assert f"dvc=={low[0]}.{low[1]}" in lowest_pins()


def test_installed_dvc_passes() -> None:
    compat.require_supported_dvc()
    assert compat.missing_internals() == []


@pytest.mark.parametrize("installed", ["3.50.0", "3.60.1", "4.0.0", "2.58.2"])
def test_dvc_outside_the_range_is_one_line_before_dvc_runs(
    installed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = init_dvc_repo(tmp_path / "proj", {"dvc.yaml": "stages:\n  a:\n    cmd: echo\n"})
    real = compat.version
    monkeypatch.setattr(compat, "version", lambda name: installed if name == "dvc" else real(name))
    out = tmp_path / "out.json"
    for args in (["export", "json", "-o", out], ["stale"], ["run", "-n"]):
        result = paraffin(*args, "-C", root)
        assert result.code == 2, (args, result.stdout, result.stderr)
        assert result.stderr == (
            f"error: dvc {installed} is installed; paraffin-export supports dvc>=3.61,<4\n"
        )
    assert not out.exists() and not (root / ".paraffin").exists()


def test_a_missing_dvc_internal_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dvc.rwlock

    root = init_dvc_repo(tmp_path / "proj", {"dvc.yaml": "stages:\n  a:\n    cmd: echo\n"})
    monkeypatch.delattr(dvc.rwlock, "_edit_rwlock")
    result = paraffin("export", "json", "-o", "-", "-C", root)
    assert result.code == 2
    assert result.stderr.startswith("error: dvc ") and result.stderr.count("\n") == 1
    assert "lacks dvc.rwlock._edit_rwlock; paraffin-export supports dvc>=3.61,<4" in result.stderr


def test_snakemake_outside_the_range_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = init_dvc_repo(tmp_path / "proj", {"dvc.yaml": "stages:\n  a:\n    cmd: echo\n"})
    real = compat.version
    monkeypatch.setattr(
        compat, "version", lambda name: "9.0.0" if name == "snakemake" else real(name)
    )
    result = paraffin("run", "-n", "-C", root)
    assert (result.code, result.stderr) == (
        2,
        "error: snakemake 9.0.0 is installed; paraffin-export supports snakemake>=9.18.1,<10\n",
    )
    assert not (root / ".paraffin").exists()


def test_declared_snakemake_range_is_the_checked_range() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["snakemake"] == [compat.SNAKEMAKE_SPEC]
    assert compat.SNAKEMAKE_SPEC in extras["test"]


def test_version_parsing() -> None:
    assert compat.parse_version("3.61.0rc1") == (3, 61, 0)
    assert compat.parse_version("4.0.0.dev3") == (4, 0, 0)
    assert compat.parse_version("garbage") == ()
