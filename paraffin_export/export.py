"""One export: load, select, render, then write atomically or check."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TextIO

from .backends import Backend, ExportOptions, Rendered
from .errors import OutputError
from .frontend import find_root, load_pipeline
from .ir import Pipeline
from .render import unified_diff, write_output
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
    quiet: bool = False  # no "paraffin: wrote ..." line on stderr
    # the project's pipeline when the caller has it already (`quick`: from the
    # IR cache, without status): not loaded again
    loaded: Pipeline | None = None


# what one stage becomes in each backend's file, for the line an export prints
UNITS = {"snakemake": "rules", "airflow": "tasks", "slurm": "stages", "mermaid": "nodes"}


def run_export(request: ExportRequest, stdout: TextIO, stderr: TextIO) -> int:
    """Exit code: 0 written or up to date, 1 when `--check` finds a difference."""
    if request.check and request.output == "-":
        raise OutputError("--check needs a file to compare with, not stdout")
    count, files = _prepare(request)
    if isinstance(files, str):
        stdout.write(files)
        return 0
    if request.check:
        return _check(files, stdout)
    for target, content in files:
        write_output(target, content)
    if not request.quiet:
        stderr.write(wrote_line(request.backend.name, count, [p for p, _ in files]))
    return 0


def wrote_line(backend: str, count: int, paths: list[Path]) -> str:
    """``paraffin: wrote Snakefile (12 rules)``: paths relative to the working
    directory when below it."""
    here = Path.cwd()
    shown = [os.fspath(p.relative_to(here) if p.is_relative_to(here) else p) for p in paths]
    unit = UNITS.get(backend, "stages")
    if count == 1:
        unit = unit[:-1]
    extra = "".join(f", {p}" for p in shown[1:])
    return f"paraffin: wrote {shown[0]} ({count} {unit}){extra}\n"


def prepare(request: ExportRequest) -> list[tuple[Path, str]] | str:
    """Everything an export would write, as (absolute path, text) pairs, or the
    main file's text alone when it goes to stdout. Writes nothing."""
    return _prepare(request)[1]


def _prepare(request: ExportRequest) -> tuple[int, list[tuple[Path, str]] | str]:
    """`prepare`, and the number of stages exported."""
    root = find_root(request.start)
    pipeline = request.loaded
    if pipeline is None:
        pipeline = load_pipeline(root, config=request.config, status=request.status)
    pipeline = select(pipeline, request.targets, request.mode)
    backend = request.backend
    path = _output_path(request, root, backend.output_name(pipeline, request.options))
    options = request.options
    if path is not None:
        options = replace(options, output=_relative_to(path, root))
    scope = request.mode.value if request.targets else "all"
    options = replace(options, scope=scope, command=export_command(request, options, root))
    rendered = backend.render(pipeline, options)
    count = len(pipeline.stages)
    return count, rendered.main if path is None else _files(path, rendered)


def export_command(request: ExportRequest, options: ExportOptions, root: Path) -> str:
    """The `paraffin export` command line that writes this file again, run from
    the DVC root (a stale workflow prints it)."""
    args = ["paraffin", "export", request.backend.name, *request.targets]
    if request.targets and request.mode is not Mode.UPSTREAM:
        args.append("--single-item" if request.mode is Mode.SINGLE else "--downstream")
    for name in sorted(options.non_default()):
        value = getattr(options, name)
        args.append("--" + name.replace("_", "-"))
        if not isinstance(value, bool):
            args.append(str(value))
    if request.config is not None:
        args += ["--config", os.path.relpath(request.config.absolute(), root)]
    args += ["-o", options.output.as_posix() if options.output else "FILE"]
    return shlex.join(args)


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
