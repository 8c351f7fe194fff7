"""Frontend: read a DVC project exactly as DVC does and build the IR."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from .. import ircache
from ..config import CONFIG_NAME, Config, apply_config, load_config
from ..errors import GraphError
from ..graph import build_edges, check_outputs, topological_order
from ..ir import Pipeline, Stage
from .dvc_errors import locate_line
from .load import Loaded, find_root, load

__all__ = ["find_root", "load_pipeline"]

log = logging.getLogger(__name__)


def load_pipeline(
    start: Path | str = ".",
    *,
    config: Path | None = None,
    status: bool = False,
) -> Pipeline:
    """The whole project's pipeline, labelled from `paraffin.yaml` if present."""
    root = find_root(Path(start))
    if not status:
        cached = ircache.lookup(root, config)
        if cached is not None:
            return cached
    with ircache.recording(root, config) as rec:
        rec["pipeline"] = pipeline = _load_pipeline(root, config, status)
    return pipeline


def _load_pipeline(root: Path, config: Path | None, status: bool) -> Pipeline:
    loaded = load(root, status=status)
    if not loaded.dvcfiles:
        # `dvc dag` and `dvc repro --all-pipelines` accept a project with no
        # stages (a new one, or a dvclive-only dvc.yaml): an empty workflow,
        # so `export --check` works from a project's first commit.
        log.warning("%s: the exported workflow is empty", _no_stages(root))
    try:
        owner = check_outputs(loaded.stages, loaded.tracked_outs, loaded.dvcfiles)
        _check_params(loaded, owner)
        edge_set = build_edges(loaded.stages, owner)
        ordered = topological_order(loaded.stages, edge_set)
    except GraphError as exc:
        raise _located(exc, root, loaded.stages) from None
    stages, limits = apply_config(ordered, _config(root, config))
    position = {s.address: i for i, s in enumerate(stages)}
    edges = tuple(sorted(edge_set, key=lambda e: (position[e[0]], position[e[1]])))
    return Pipeline(
        stages=tuple(stages), edges=edges, limits=limits, project=root.name, root=os.fspath(root)
    )


def _no_stages(root: Path) -> str:
    if (root / "dvc.yaml").is_file():
        return "dvc.yaml defines no stages (and no other dvc.yaml does)"
    return "no dvc.yaml in this DVC project (add stages with `dvc stage add`)"


def _check_params(loaded: Loaded, owner: dict[str, str]) -> None:
    """`dvc repro` fails on a params file that is neither present nor produced
    by a stage; say so now, naming the stage, instead of mid-run."""
    for stage in loaded.stages:
        for param in stage.params:
            if param.file not in owner and not (loaded.root / param.file).exists():
                raise GraphError(f"params file '{param.file}' does not exist", stage=stage.address)


def _located(exc: GraphError, root: Path, stages: Sequence[Stage]) -> GraphError:
    """Point a graph error at the stage's definition: file and line."""
    by_address = {s.address: s for s in stages}
    stage = by_address.get(exc.stage or "")
    if stage is not None and exc.file is None:
        exc.file = stage.dvcfile
        exc.line = locate_line(root / stage.dvcfile, ["stages", stage.name.split("@")[0]])
    return exc


def _config(root: Path, explicit: Path | None) -> Config:
    if explicit is not None:
        return load_config(explicit, os.fspath(explicit))
    default = root / CONFIG_NAME
    if default.is_file():
        return load_config(default, CONFIG_NAME)
    return Config(CONFIG_NAME)
