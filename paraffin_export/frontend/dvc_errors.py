"""Turn DVC's exceptions into ours, with file, line and stage where known."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import NotADvcProjectError, ProjectError

_RESOLVE = re.compile(
    r"failed to parse '(?P<key>[^']*)' in '(?P<file>[^']*)':?\s*(?P<msg>.*)", re.S
)


def translate(exc: Exception, root: Path | None) -> ProjectError:
    """Best effort: never raise while explaining another error."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.parsing import ResolveError
    from dvc.utils.serialize import YAMLFileCorruptedError
    from dvc.utils.strictyaml import YAMLSyntaxError, YAMLValidationError

    try:
        if isinstance(exc, NotDvcRepoError):
            return NotADvcProjectError(
                "not inside a DVC project (no .dvc directory here or above)",
                hint="run `dvc init` first, or pass -C/--repo DIR",
            )
        error = None
        if isinstance(exc, YAMLSyntaxError):
            error = _syntax(exc)
        elif isinstance(exc, YAMLValidationError):
            error = _validation(exc)
        elif isinstance(exc, ResolveError):
            error = _resolve(exc, root)
        elif isinstance(exc, YAMLFileCorruptedError):  # params.yaml, a `vars` file
            error = _corrupted(exc)
        if error is not None:
            return _rooted(error, root)
    except Exception:  # noqa: BLE001 - fall through to the plain message
        pass
    return ProjectError(_one_line(str(exc)) or type(exc).__name__)


def _rooted(error: ProjectError, root: Path | None) -> ProjectError:
    """DVC names files relative to the process's cwd; we name them relative to
    the DVC root, so a message reads the same wherever the user stands."""
    if root is not None:
        error.message = _QUOTED.sub(lambda m: _root_relative(m, root), error.message)
    if error.file and root is not None:
        path = Path(os.path.abspath(error.file))
        if path.is_relative_to(root):
            error.file = path.relative_to(root).as_posix()
        if error.line is None and error.stage:
            error.line = locate_line(path, ["stages", error.stage.split("@")[0]])
    return error


_QUOTED = re.compile(r"'([^'\n]*/[^'\n]*)'")


def _root_relative(match: re.Match[str], root: Path) -> str:
    path = Path(os.path.abspath(match[1]))
    return f"'{path.relative_to(root).as_posix()}'" if path.is_relative_to(root) else match[0]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _syntax(exc: Any) -> ProjectError:
    cause = exc.exc.__cause__
    mark = getattr(cause, "problem_mark", None) or getattr(cause, "context_mark", None)
    problem = getattr(cause, "problem", None) or getattr(cause, "context", None) or "invalid YAML"
    return ProjectError(
        f"invalid YAML: {problem}",
        file=exc.relpath,
        line=mark.line + 1 if mark is not None else None,
    )


def _corrupted(exc: Any) -> ProjectError:
    """DVC's "YAML file structure is corrupted" names the file, not the line:
    ruamel's error, its cause, has the line."""
    cause = exc.__cause__
    mark = getattr(cause, "problem_mark", None) or getattr(cause, "context_mark", None)
    problem = getattr(cause, "problem", None) or getattr(cause, "context", None)
    return ProjectError(
        f"invalid YAML: {problem}" if problem else "invalid YAML",
        file=exc.path,
        line=mark.line + 1 if mark is not None else None,
    )


def _validation(exc: Any) -> ProjectError:
    from dvc.utils.serialize import parse_yaml_for_update
    from dvc.utils.strictyaml import determine_linecol

    error = exc.exc.errors[0]
    path = [str(p) for p in error.path]
    line = None
    data = parse_yaml_for_update(exc.text, exc.path)
    if data:
        line, _, _ = determine_linecol(data, list(error.path))
    stage = path[1] if len(path) > 1 and path[0] == "stages" else None
    key = " -> ".join(path[2:] if stage else path)
    message = f"{error.error_message}" + (f" (at {key})" if key else "")
    more = len(exc.exc.errors) - 1
    if more:
        message += f" and {more} more error{'s' if more > 1 else ''}"
    return ProjectError(message, file=exc.path, line=line, stage=stage)


def _resolve(exc: Exception, root: Path | None) -> ProjectError:
    text = str(exc)
    match = _RESOLVE.match(text)
    if not match:
        return ProjectError(_one_line(text))
    stage = _stage_of(match["key"])
    if stage:
        keys = ["stages", stage.split("@")[0], *_field_of(match["key"], stage)]
    else:
        keys = match["key"].split(".")[:1]
    file = match["file"]
    line = locate_line(Path(os.path.abspath(file)), keys)
    detail = _one_line(match["msg"]) or "cannot resolve"
    return ProjectError(f"{detail} (in '{match['key']}')", file=file, line=line, stage=stage)


_STAGE_KEY = re.compile(
    r"stages\.(?P<stage>.+?)(?:\.(?:cmd|deps|outs|params|metrics|plots|wdir|vars|foreach"
    r"|do|matrix|frozen|always_changed|desc|meta)(?:\..*)?)?$",
    re.S,
)


def _stage_of(key: str) -> str | None:
    """`stages.train@0.1-a.cmd` -> `train@0.1-a` (stage names may hold dots)."""
    match = _STAGE_KEY.match(key)
    return match["stage"] if match else None


def _field_of(key: str, stage: str | None) -> list[str]:
    """The field after the stage in a resolve key (`cmd`), to point at its line."""
    if not stage:
        return []
    rest = key[len("stages.") + len(stage) :].lstrip(".")
    return rest.split(".")[:1] if rest else []


def locate_line(path: Path, keys: list[str]) -> int | None:
    """1-based line of the deepest mapping key along ``keys`` in a YAML file."""
    import yaml

    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                line, node = k.start_mark.line + 1, v
                break
        else:
            break
    return line
