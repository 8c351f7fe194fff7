"""Frontend: read a DVC project exactly as DVC does and build the IR."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import CONFIG_NAME, Config, apply_config, load_config
from ..errors import ProjectError
from ..ir import Pipeline
from .graph import build_edges, check_outputs, topological_order
from .load import find_root, load

__all__ = ["find_root", "load_pipeline"]


def load_pipeline(
    start: Path | str = ".",
    *,
    config: Path | None = None,
    status: bool = False,
) -> Pipeline:
    """The whole project's pipeline, labelled from `paraffin.yaml` if present."""
    root = find_root(Path(start))
    loaded = load(root, status=status)
    if not loaded.dvcfiles:
        raise ProjectError("no dvc.yaml with stages in this DVC project", file=os.fspath(root))
    owner = check_outputs(loaded.stages, loaded.tracked_outs, loaded.dvcfiles)
    edge_set = build_edges(loaded.stages, owner)
    ordered = topological_order(loaded.stages, edge_set)
    stages, limits = apply_config(ordered, _config(root, config))
    position = {s.address: i for i, s in enumerate(stages)}
    edges = tuple(sorted(edge_set, key=lambda e: (position[e[0]], position[e[1]])))
    return Pipeline(
        stages=tuple(stages), edges=edges, limits=limits, project=root.name, root=os.fspath(root)
    )


def _config(root: Path, explicit: Path | None) -> Config:
    if explicit is not None:
        return load_config(explicit, os.fspath(explicit))
    default = root / CONFIG_NAME
    if default.is_file():
        return load_config(default, CONFIG_NAME)
    return Config(CONFIG_NAME)
