"""Golden cases: golden/<case>/ holds a DVC project (plus optional case.yaml)
and expected/<variant>/ with every file an export writes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import yaml
from conftest import GOLDEN, init_dvc_repo

from paraffin_export.backends import REGISTRY

# Fixed arguments per backend variant, so golden files carry no machine paths.
VARIANTS: dict[str, list[str]] = {
    "json": ["json"],
    "mermaid": ["mermaid"],
    "mermaid-levels": ["mermaid", "--view", "levels"],
    "snakemake": ["snakemake"],
    "airflow": ["airflow", "--repo-path", "/srv/dvc-project"],
}
SKIP_INPUT = {"expected", "case.yaml"}


def variants() -> dict[str, list[str]]:
    """Every registered backend gets at least its plain variant."""
    table = {k: v for k, v in VARIANTS.items() if v[0] in REGISTRY}
    for name in REGISTRY:
        if not any(args[0] == name for args in table.values()):
            table[name] = [name]
    return dict(sorted(table.items()))


def cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def case_options(case: str) -> dict[str, object]:
    path = GOLDEN / case / "case.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def materialize(case: str, dest: Path) -> Path:
    """Copy the case's project into ``dest/<case>``, git+dvc init it; the DVC root."""
    src = GOLDEN / case
    project = dest / case
    project.mkdir(parents=True)
    for item in src.iterdir():
        if item.name in SKIP_INPUT:
            continue
        copy = shutil.copytree if item.is_dir() else shutil.copy2
        copy(item, project / item.name)
    return init_dvc_repo(project, {}, subdir=str(case_options(case).get("subdir", ".")))


def tree(folder: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path.relative_to(folder).as_posix(), path.read_text(encoding="utf-8")
