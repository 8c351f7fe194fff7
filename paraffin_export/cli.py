"""The command line. The only place that turns errors into exit codes:
0 ok, 1 `--check` found a stale file, 2 bad input or usage.

Usage errors are caught by what typer raises, never by `click`'s classes:
typer 0.29 carries its own copy of click (`typer._click`), whose exceptions
`click.ClickException` does not match, and it no longer needs click at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .backends import REGISTRY, ExportOptions, get_backend
from .errors import ParaffinError, UsageError
from .export import ExportRequest, run_export
from .selection import Mode

app = typer.Typer(
    name="paraffin",
    help="Compile a DVC project into a Snakemake, Airflow, SLURM or mermaid workflow, or run it.",
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help on every typer version: typer 0.29's rich panels show
    # `<bool>` after every flag
    rich_markup_mode=None,
)


class _Command(typer.core.TyperCommand):
    """Help without the `<str>`/`<list[str]>` type tags typer 0.29 adds after arguments:
    the metavar and the help text already say what to pass."""

    def get_params(self, ctx: typer.Context) -> list:  # type: ignore[override]
        params = super().get_params(ctx)
        for param in params:
            if isinstance(param, typer.core.TyperArgument):
                # per instance: typer < 0.29 has no such method and ignores it
                param.display_type_rich = lambda ctx: ""  # type: ignore[method-assign]
        return params


# Options several commands share, declared once.
RepoOption = Annotated[
    Path,
    typer.Option("-C", "--repo", metavar="DIR", help="Start looking for the DVC root here."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", metavar="FILE", help="paraffin.yaml to use (default: in the root)."),
]

# In the command's help, not the argument's: typer < 0.26 under click >= 8.2
# drops arguments' help texts
EXPORT_HELP = "\n".join(
    [
        "Write the workflow of the DVC project for BACKEND: TARGETS (default: all stages)",
        "and everything upstream of them.",
        "",
        "\b",
        "BACKEND is one of:",
        *(f"  {n:<10} {b.help}" for n, b in sorted(REGISTRY.items())),
    ]
)
# Every error type a typer/click parse raises: `typer.BadParameter` is click's
# (or typer._click's) BadParameter on every typer version, so its base classes
# are the ones to catch.
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"paraffin-export {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an error, show its traceback; log DVC's and paraffin's debug messages.",
        ),
    ] = False,
) -> None:
    # --debug is taken out of the arguments by main() before parsing: declared
    # here so that --help lists it
    del version, debug


@app.command(
    cls=_Command,
    help=EXPORT_HELP,
    short_help="Write a Snakefile, Airflow DAG, SLURM script, JSON or mermaid.",
)
def export(
    backend: Annotated[
        str,
        typer.Argument(
            metavar="BACKEND", help=f"One of {', '.join(sorted(REGISTRY))}.", show_default=False
        ),
    ],
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TARGETS",
            help="Stages: addresses, group names, dvc.yaml paths or globs.",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            metavar="PATH",
            help="File or directory to write; '-' for stdout (default: in the DVC root).",
        ),
    ] = None,
    repo: RepoOption = Path("."),
    config: ConfigOption = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 with a diff if stale.")
    ] = False,
    single_item: Annotated[
        bool, typer.Option("--single-item", help="Only the named stages.")
    ] = False,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="The named stages and all below them.")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Ask DVC which stages are changed.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Print nothing when the file is written.")
    ] = False,
    view: Annotated[
        str,
        typer.Option(
            metavar="dag|levels", help="mermaid: the DAG, or the levels that run in parallel."
        ),
    ] = "dag",
    md: Annotated[
        bool, typer.Option("--md", help="mermaid: wrap in a ```mermaid block for Markdown.")
    ] = False,
    repo_path: Annotated[
        str | None,
        typer.Option(metavar="DIR", help="airflow: the DVC root on the workers."),
    ] = None,
    dag_id: Annotated[str | None, typer.Option(metavar="ID", help="airflow: the DAG id.")] = None,
    max_active_tasks: Annotated[
        int | None,
        typer.Option(metavar="N", help="airflow: tasks running at once."),
    ] = None,
    runner: Annotated[
        str,
        typer.Option(
            metavar="paraffin|dvc",
            help="snakemake: how rules run a stage: `paraffin` (commands in jobs, DVC's"
            " bookkeeping batched in the main process) or `dvc` (one `dvc repro` per job).",
        ),
    ] = "paraffin",
    profile: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="snakemake: also write profiles/NAME (slurm)."),
    ] = None,
) -> None:
    if single_item and downstream:
        raise UsageError("--single-item and --downstream exclude each other")
    chosen = get_backend(backend)
    options = ExportOptions(
        view=view,
        md=md,
        repo_path=repo_path,
        dag_id=dag_id,
        max_active_tasks=max_active_tasks,
        runner=runner,
        profile=profile,
    )
    stray = options.non_default() - chosen.options
    if stray:
        names = ", ".join("--" + s.replace("_", "-") for s in sorted(stray))
        raise UsageError(f"{names} not used by the '{chosen.name}' backend")
    mode = Mode.SINGLE if single_item else Mode.DOWNSTREAM if downstream else Mode.UPSTREAM
    request = ExportRequest(
        backend=chosen,
        options=options,
        targets=tuple(targets or ()),
        mode=mode,
        start=repo,
        config=config,
        status=status,
        output=output,
        check=check,
        quiet=quiet,
    )
    raise _Exit(run_export(request, sys.stdout, sys.stderr))


@app.command(cls=_Command, short_help="Print the stages `dvc repro` would run now.")
def stale(
    repo: RepoOption = Path("."),
    null: Annotated[
        bool, typer.Option("-0", "--null", help="End each address with NUL, not newline.")
    ] = False,
    expect: Annotated[
        str | None,
        typer.Option(
            metavar="JSON",
            help="The graph a SLURM submit script was exported with; exit 2 if changed.",
        ),
    ] = None,
) -> None:
    """Print the stages `dvc repro` would run now (DVC's status, and everything below)."""
    from .stale import print_stale

    raise _Exit(print_stale(repo, sys.stdout, null=null, expect=expect))


@app.command(
    cls=_Command, short_help="Reproduce the pipeline with Snakemake, as `dvc repro` would."
)
def run(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TARGETS",
            help="Stages to reproduce, with everything upstream (default: all).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("-j", "--jobs", metavar="N", help="Jobs at once (default: CPU count)."),
    ] = None,
    keep_going: Annotated[
        bool, typer.Option("-k", "--keep-going", help="Go on with independent stages.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("-n", "--dry-run", help="Show the jobs, run nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "-f",
            "--force",
            help="Rerun the stages even if DVC finds them unchanged (dvc repro -f).",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("-v", "--verbose", help="Also show Snakemake's messages for every job."),
    ] = False,
    repo: RepoOption = Path("."),
    config: ConfigOption = None,
    runner: Annotated[
        str,
        typer.Option(metavar="paraffin|dvc", help="How rules run a stage (see `export --help`)."),
    ] = "paraffin",
    snakemake_args: Annotated[
        str | None,
        typer.Option(
            metavar="ARGS",
            help="More snakemake options, shell-quoted: '--executor slurm ...'.",
        ),
    ] = None,
) -> None:
    """Reproduce the pipeline: export .paraffin/Snakefile and run it with Snakemake."""
    from .run import RunRequest, run_pipeline, split_args

    if jobs is not None and jobs < 1:
        raise UsageError(f"-j/--jobs must be at least 1, not {jobs}")
    request = RunRequest(
        targets=tuple(targets or ()),
        jobs=jobs,
        keep_going=keep_going,
        dry_run=dry_run,
        force=force,
        start=repo,
        config=config,
        runner=runner,
        snakemake_args=split_args(snakemake_args),
        verbose=verbose,
    )
    raise _Exit(run_pipeline(request, sys.stdout, sys.stderr))


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s".lower()))
    logger = logging.getLogger("paraffin_export")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns (and with the console script, exits with) the code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    _setup_logging(debug)
    try:
        if not args:  # help, as a usage error: the same on every typer version
            with contextlib.redirect_stdout(sys.stderr):
                app(args=["--help"], prog_name="paraffin", standalone_mode=False)
            return 2
        app(args=args, prog_name="paraffin", standalone_mode=False)
        return 0
    except _Exit as done:
        return done.code
    except ParaffinError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:  # --help, --version
        return exc.exit_code
    except _CLICK_ERROR as exc:
        if debug:
            raise
        exc.show(file=sys.stderr)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
