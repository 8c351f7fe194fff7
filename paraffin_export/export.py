"""One export: load, select, render, then write atomically or check."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TextIO

from .backends import Backend, ExportOptions, Rendered
from .errors import OutputError
from .frontend import find_root, load_pipeline
from .render import unified_diff, write_atomic
from .selection import Mode, select


@dataclass(frozen=True)
class ExportRequest:
    backend: Backend
    options: ExportOptions = ExportOptions()
    targets: tuple[str, ...] = ()
    mode: Mode = Mode.UPSTREAM
    start: Path = Path(".")
    config: Path | None = None
    status: bool = False
    output: str | None = None
    check: bool = False


def run_export(request: ExportRequest, stdout: TextIO, stderr: TextIO) -> int:
    """Exit code: 0 written or up to date, 1 when `--check` finds a difference."""
    if request.check and request.output == "-":
        raise OutputError("--check needs a file to compare with, not stdout")
    files = prepare(request)
    if isinstance(files, str):
        stdout.write(files)
        return 0
    if request.check:
        return _check(files, stdout)
    for target, content in files:
        write_atomic(target, content)
    return 0


def prepare(request: ExportRequest) -> list[tuple[Path, str]] | str:
    """Everything an export would write, as (absolute path, text) pairs, or the
    main file's text alone when it goes to stdout. Writes nothing."""
    root = find_root(request.start)
    pipeline = load_pipeline(root, config=request.config, status=request.status)
    pipeline = select(pipeline, request.targets, request.mode)
    backend = request.backend
    path = _output_path(request, root, backend.output_name(pipeline, request.options))
    options = request.options
    if path is not None:
        options = replace(options, output=_relative_to(path, root))
    rendered = backend.render(pipeline, options)
    return rendered.main if path is None else _files(path, rendered)


def _output_path(request: ExportRequest, root: Path, default_name: str) -> Path | None:
    if request.output == "-":
        return None
    if request.output is None:
        return root / default_name
    given = Path(request.output)
    if request.output.endswith(("/", os.sep)) or given.is_dir():
        return (given / default_name).absolute()
    return given.absolute()


def _relative_to(path: Path, root: Path) -> PurePosixPath:
    return PurePosixPath(Path(os.path.relpath(path, root)).as_posix())


def _files(path: Path, rendered: Rendered) -> list[tuple[Path, str]]:
    files = [(path, rendered.main)]
    files += [(path.parent / name, text) for name, text in rendered.extras]
    return files


def _check(files: list[tuple[Path, str]], stdout: TextIO) -> int:
    stale = 0
    for path, content in files:
        diff = unified_diff(path, content)
        if diff is not None:
            stale += 1
            stdout.write(diff)
    return 1 if stale else 0
