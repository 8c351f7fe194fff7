"""What a backend is: a name, a default file name, and a pure render function."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import PurePosixPath
from typing import Protocol

from ..ir import Pipeline


@dataclass(frozen=True)
class ExportOptions:
    """Options a backend may read. The CLI rejects options a backend does not
    list in ``Backend.options`` so a typo never silently does nothing."""

    # Where the main file goes, relative to the DVC root (None: stdout).
    output: PurePosixPath | None = None
    # mermaid
    view: str = "dag"
    md: bool = False
    # airflow
    repo_path: str | None = None
    dag_id: str | None = None
    max_active_tasks: int | None = None
    # snakemake
    runner: str = "paraffin"
    profile: str | None = None
    # Set by the export, not the user: what it selected (`drift.SCOPES`) and the
    # command that exports this file again, which a stale workflow prints.
    scope: str = "all"
    command: str | None = None

    def non_default(self) -> set[str]:
        default = ExportOptions()
        return {
            f.name
            for f in fields(self)
            if f.name not in _SET_BY_EXPORT and getattr(self, f.name) != getattr(default, f.name)
        }


_SET_BY_EXPORT = frozenset({"output", "scope", "command"})


@dataclass(frozen=True)
class Rendered:
    """The main file's text plus any companion files, paths relative to the
    main file's directory (e.g. an Airflow pools file, a Snakemake profile)."""

    main: str
    extras: tuple[tuple[str, str], ...] = ()


class Backend(Protocol):
    name: str
    help: str
    options: frozenset[str]

    def output_name(self, pipeline: Pipeline, options: ExportOptions) -> str:
        """Default file name (used when -o is absent or names a directory)."""
        ...

    def render(self, pipeline: Pipeline, options: ExportOptions) -> Rendered: ...
