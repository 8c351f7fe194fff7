"""DVC's own view of a project, computed with DVC's API (the oracle)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DvcView:
    stages: dict[str, tuple[tuple[str, ...], str]]  # address -> (cmd, wdir)
    edges: set[tuple[str, str]]  # (upstream, downstream)


def address(stage: object, root: Path) -> str:
    dvcfile = Path(stage.path_in_repo).as_posix()  # type: ignore[attr-defined]
    name = stage.name  # type: ignore[attr-defined]
    return name if dvcfile == "dvc.yaml" else f"{dvcfile}:{name}"


def dvc_view(root: Path) -> DvcView:
    """Stages, commands, wdirs and edges exactly as `dvc dag` would build them."""
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with Repo(os.fspath(root)) as repo:
        graph = repo.index.graph  # runs DVC's own overlap and cycle checks
        stages = {}
        for st in graph.nodes:
            if isinstance(st, PipelineStage):
                cmd = tuple(st.cmd) if isinstance(st.cmd, list) else (st.cmd,)
                wdir = Path(os.path.relpath(st.wdir, root)).as_posix()
                stages[address(st, root)] = (cmd, wdir)
        edges = {
            (address(up, root), address(down, root))
            for down, up in graph.edges  # DVC edges point from a stage to its dependency
            if isinstance(up, PipelineStage) and isinstance(down, PipelineStage)
        }
    return DvcView(stages, edges)
