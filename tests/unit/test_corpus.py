"""Every real pipeline in tests/corpus (vendored) that DVC loads exports exactly as DVC
sees it: same addresses, commands, wdirs and edges. Where DVC refuses, we refuse."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, init_dvc_repo, paraffin
from dvc_oracle import dvc_view

from paraffin_export.errors import ParaffinError
from paraffin_export.frontend import load_pipeline


def _projects() -> list[tuple[str, str]]:
    """(project folder, dvc_root) pairs from the manifest, one per DVC root."""
    with open(CORPUS / "MANIFEST.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    seen: dict[tuple[str, str], None] = {}
    for row in rows:
        seen[(row["owner/repo"].replace("/", "__"), row["dvc_root"])] = None
    return sorted(seen)


PROJECTS = _projects()
REFUSED = {"mlrepa__dvc-7-monorepo": "is written by both"}
EMPTY = {"BlaiseMuhirwa__flatnav"}  # dvclive-only dvc.yaml: no stages at all


def test_corpus_is_present_with_licences() -> None:
    assert len(PROJECTS) >= 15, f"corpus missing at {CORPUS}"
    with open(CORPUS / "MANIFEST.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for row in rows:
        licence = CORPUS / row["license_text"].split(" ")[0]
        assert licence.is_file() and licence.stat().st_size > 500, row["owner/repo"]


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cache: dict[tuple[str, str], Path] = {}

    def get(project: str, dvc_root: str) -> Path:
        if (project, dvc_root) not in cache:
            dest = tmp_path_factory.mktemp("corpus") / project
            shutil.copytree(CORPUS / project, dest)
            cache[(project, dvc_root)] = init_dvc_repo(dest, {}, subdir=dvc_root)
        return cache[(project, dvc_root)]

    return get


@pytest.mark.parametrize(("project", "dvc_root"), PROJECTS, ids=[p for p, _ in PROJECTS])
def test_matches_dvc(project: str, dvc_root: str, corpus_root) -> None:  # type: ignore[no-untyped-def]
    root = corpus_root(project, dvc_root)
    if project in REFUSED:
        with pytest.raises(ParaffinError, match=REFUSED[project]):
            load_pipeline(root)
        result = paraffin("export", "json", "-C", root, "-o", "-")
        assert result.code == 2 and result.stderr.startswith("error: ")
        assert "Traceback" not in result.stderr
        return
    ours = load_pipeline(root)
    oracle = dvc_view(root)
    if project in EMPTY:  # an empty workflow, as `dvc dag` shows it
        assert ours.stages == () and ours.edges == () and not oracle.stages
        return
    assert [s.address for s in ours.stages] and len(ours.stages) == len(oracle.stages)
    assert {s.address: (s.cmd, s.wdir) for s in ours.stages} == oracle.stages
    assert set(ours.edges) == oracle.edges
    position = {s.address: i for i, s in enumerate(ours.stages)}
    assert all(position[u] < position[d] for u, d in ours.edges), "not topological"
