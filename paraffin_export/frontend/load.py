"""Read a DVC project with DVC's own loader and convert it to IR stages."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import dvc_adapter as dvc
from .. import dvcreads, ircache, paths
from ..compat import require_supported_dvc
from ..errors import NotADvcProjectError, ParaffinError
from ..ir import Param, Stage
from .dvc_errors import translate


@dataclass(frozen=True)
class Loaded:
    """What the frontend reads under one repo lock."""

    root: Path
    stages: tuple[Stage, ...]
    # Outputs of non-pipeline stages (`dvc add`-tracked `.dvc` files): they take
    # part in DVC's overlap checks but are not stages we run.
    tracked_outs: tuple[tuple[str, str], ...]
    # Where each dvc.yaml lives, for overlap checks on stage files.
    dvcfiles: tuple[str, ...]


def find_root(start: Path) -> Path:
    """The DVC root at or above ``start``, found exactly as the `dvc` CLI does."""
    if not start.exists():
        raise NotADvcProjectError(f"no such directory: {start}")
    found = paths.dvc_root(start)
    if found is not None:
        return found
    require_supported_dvc()  # before DVC runs: one line, not a traceback
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        return Path(Repo.find_root(os.fspath(start))).resolve()
    except NotDvcRepoError as exc:
        raise translate(exc, None) from None


def load(root: Path, *, status: bool = False) -> Loaded:
    """All stages of every dvc.yaml under ``root``, read under DVC's repo lock so
    a concurrent `dvc repro` rewriting dvc.lock cannot hand us a torn file."""
    require_supported_dvc()  # find_root's fast path does not start DVC
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    dvcreads.install()
    with dvc.quiet_dvc():
        try:
            # Wait for a concurrent `dvc repro` instead of failing after 3 s.
            with Repo(os.fspath(root), _wait_for_lock=True) as repo:
                with repo.lock:
                    return _collect(repo, root, status)
        except ParaffinError:
            raise
        except DvcException as exc:
            raise translate(exc, root) from exc


def _collect(repo: Any, root: Path, status: bool) -> Loaded:
    from dvc.stage import PipelineStage

    stages: list[tuple[str, int, Stage]] = []
    tracked: list[tuple[str, str]] = []
    position: dict[str, int] = {}
    locked: dict[str, frozenset[str]] = {}
    for dvc_stage in repo.index.stages:
        if not isinstance(dvc_stage, PipelineStage):
            tracked.extend(
                (dvc.relative(root, o.fs_path), dvc_stage.relpath) for o in dvc_stage.outs
            )
            continue
        dvcfile = dvc.dvcfile(dvc_stage)
        index = position[dvcfile] = position.get(dvcfile, -1) + 1
        if dvcfile not in locked:
            # `stage.dvcfile` is a fresh object per stage: reading its lock
            # contents per stage would parse a big dvc.lock once per stage.
            contents = dvc_stage.dvcfile.lockfile_contents or {}
            locked[dvcfile] = frozenset(contents.get("stages", {}))
        stage = _convert(dvc_stage, root, status)
        stages.append((dvcfile, index, replace(stage, locked=stage.name in locked[dvcfile])))
    stages.sort(key=lambda item: (item[0], item[1]))
    return Loaded(
        root=root,
        stages=tuple(s for _, _, s in stages),
        tracked_outs=tuple(sorted(tracked)),
        dvcfiles=tuple(sorted(position)),
    )


def _convert(st: Any, root: Path, status: bool) -> Stage:
    dvcfile = dvc.dvcfile(st)
    address = dvc.address(st)
    group = None
    if "@" in st.name:
        parent = st.name.rsplit("@", 1)[0]
        group = parent if dvcfile == "dvc.yaml" else f"{dvcfile}:{parent}"
    params = [
        Param(dvc.dep_path(root, dep), tuple(str(k) for k in dep.params))
        for dep in st.deps
        if dvc.is_params(dep)
    ]
    with ircache.untraced():  # the data a status reads does not make the IR
        changed = dvc.changed(st) if status else None
    return Stage(
        address=address,
        name=st.name,
        dvcfile=dvcfile,
        wdir=dvc.relative(root, st.wdir),
        cmd=tuple(st.cmd) if isinstance(st.cmd, list) else (st.cmd,),
        deps=dvc.path_deps(root, st),
        outs=tuple(dvc.out_of(root, o) for o in st.outs),
        params=tuple(params),
        frozen=bool(st.frozen),
        always_changed=bool(st.always_changed),
        group=group,
        desc=st.desc or None,
        changed=changed,
    )
