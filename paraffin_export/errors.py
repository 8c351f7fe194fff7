"""One exception hierarchy for every user-facing failure.

Domain code raises these; only ``cli.py`` turns them into exit codes, so a
library user gets exceptions and a shell user gets one clear line.
"""

from __future__ import annotations


class ParaffinError(Exception):
    """Base class: anything the user can fix. Exit code 2 in the CLI."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        stage: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.stage = stage
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        who = f"stage '{self.stage}': " if self.stage else ""
        text = f"{where}{who}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ProjectError(ParaffinError):
    """The DVC project cannot be found or loaded (what DVC itself refuses)."""


class NotADvcProjectError(ProjectError):
    """No `.dvc/` directory above the working directory."""


class GraphError(ProjectError):
    """The stages load but do not form a valid pipeline."""


class CycleError(GraphError):
    """Dependencies form a cycle; ``cycle`` lists the addresses on it."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        path = " -> ".join(repr(a) for a in [*cycle, cycle[0]])
        super().__init__(f"dependencies form a cycle: {path}", stage=cycle[0])


class OutputConflictError(GraphError):
    """Two stages write the same output, or one output lies inside another."""


class ConfigError(ParaffinError):
    """`paraffin.yaml` is invalid."""


class SelectionError(ParaffinError):
    """A target names no stage."""


class BackendError(ParaffinError):
    """A backend cannot render this pipeline with these options."""


class OutputError(ParaffinError):
    """The generated file cannot be written."""


class UsageError(ParaffinError):
    """The command line itself is wrong (options that exclude each other)."""
