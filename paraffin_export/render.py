"""Jinja2 environment and output writing shared by every backend."""

from __future__ import annotations

import difflib
import json
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .atomic import write_atomic
from .errors import OutputError


def templates_dir() -> Path:
    """Templates ship inside the wheel; in a source checkout they sit beside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise OutputError(f"templates not found next to {here}")  # pragma: no cover


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = repr
    env.filters["shquote"] = shlex.quote
    env.filters["tojson_compact"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env


def render_template(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def write_output(path: Path, content: str) -> None:
    """Write an exported file atomically (`atomic.write_atomic`): readers never
    see a half-written file, and a failure leaves the old file intact."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, content)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", file=str(path)) from exc


def unified_diff(path: Path, expected: str) -> str | None:
    """None when ``path`` holds exactly ``expected``; otherwise a unified diff."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == expected:
        return None
    before = [] if current is None else current.splitlines(keepends=True)
    diff = difflib.unified_diff(
        before,
        expected.splitlines(keepends=True),
        fromfile=f"{path} (on disk)" if current is not None else f"{path} (missing)",
        tofile=f"{path} (expected)",
    )
    return "".join(diff) or f"{path}: differs only in line endings\n"
