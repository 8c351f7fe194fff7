"""The console script's entry point: what a no-op workflow asks most, answered
before the CLI is imported (issue 18).

`paraffin stale` when the status cache answers (`statuscache`), and
`paraffin export BACKEND` when the IR cache does (`ircache`), in their plain
forms (the options below). On an unchanged project importing the CLI costs
more than the work: typer imports pydantic to parse any option, and the CLI
imports every backend. Anything else (another option, `--debug`, a cache
that cannot answer, an error) goes to the full CLI, `cli.main`, which does
it all again from the start and stays the one place that turns errors into
exit codes. Nothing here writes before it knows it answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# option -> (name, takes a value)
STALE = {"-C": ("repo", True), "--repo": ("repo", True), "-0": ("null", False)}
STALE["--null"] = ("null", False)
EXPORT = {"-C": ("repo", True), "--repo": ("repo", True), "-o": ("output", True)}
EXPORT |= {"--output": ("output", True), "--runner": ("runner", True)}
EXPORT |= {"-q": ("quiet", False), "--quiet": ("quiet", False)}


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns (and with the console script, exits with) the code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = answer(args)
    except BrokenPipeError:  # as the CLI does: a closed pipe is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if code is not None:
        return code
    from .cli import main as full

    return full(args)


def answer(args: list[str]) -> int | None:
    """The exit code when answered here; None: the full CLI must answer."""
    if args[:1] == ["stale"]:
        parsed = parse(args[1:], STALE)
        return None if parsed is None or parsed[0] else _stale(parsed[1])
    if args[:1] == ["export"]:
        parsed = parse(args[1:], EXPORT)
        if parsed is None or len(parsed[0]) != 1:
            return None
        return _export(parsed[0][0], parsed[1])
    return None


def parse(args: list[str], known: dict[str, tuple[str, bool]]) -> tuple[list[str], dict] | None:
    """(positionals, options) when every argument is one of ``known`` (a value
    after it or after `=`) or a plain positional; else None."""
    positionals: list[str] = []
    options: dict[str, object] = {}
    rest = iter(args)
    for arg in rest:
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if not arg.startswith("-") or arg == "-":
            positionals.append(arg)
        elif name in known and known[name][1]:
            options[known[name][0]] = value if eq else next(rest, None)
        elif name in known and not eq:
            options[known[name][0]] = True
        else:
            return None
    if None in options.values():  # an option without its value
        return None
    return positionals, options


def _root(options: dict) -> Path | None:
    from . import paths

    start = Path(str(options.get("repo", ".")))
    return paths.dvc_root(start) if start.is_dir() else None


def _stale(options: dict) -> int | None:
    from . import statuscache
    from .staleness import stale_addresses

    root = _root(options)
    pipeline = None if root is None else statuscache.lookup(root)
    if pipeline is None:
        return None
    end = "\0" if options.get("null") else "\n"
    for address in stale_addresses(pipeline.stages, pipeline.upstream):
        sys.stdout.write(address + end)
    return 0


def _export(backend: str, options: dict) -> int | None:
    from . import ircache

    root = _root(options)
    pipeline = None if root is None else ircache.lookup(root, None)
    if pipeline is None:
        return None
    from .backends import REGISTRY, ExportOptions
    from .errors import ParaffinError
    from .export import ExportRequest, run_export

    chosen = REGISTRY.get(backend)
    runner = options.get("runner")
    if chosen is None or (runner is not None and "runner" not in chosen.options):
        return None
    request = ExportRequest(
        backend=chosen,
        options=ExportOptions() if runner is None else ExportOptions(runner=str(runner)),
        start=Path(str(options.get("repo", "."))),
        output=None if options.get("output") is None else str(options["output"]),
        quiet=bool(options.get("quiet")),
        loaded=pipeline,
    )
    try:
        return run_export(request, sys.stdout, sys.stderr)
    except ParaffinError:
        return None
