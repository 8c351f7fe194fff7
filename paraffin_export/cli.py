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

import typer

from .backends import REGISTRY, Backend, ExportOptions, get_backend
from .cli_options import (
    BackendArg,
    CheckOption,
    ConfigOption,
    DagIdOption,
    DebugOption,
    DownstreamOption,
    DryRunOption,
    ExpectOption,
    ExportRunnerOption,
    ExportTargets,
    ForceOption,
    JobsOption,
    KeepGoingOption,
    MaxActiveTasksOption,
    MdOption,
    NullOption,
    OutputOption,
    ProfileOption,
    QuietOption,
    RepoOption,
    RepoPathOption,
    RunRunnerOption,
    RunTargets,
    SingleItemOption,
    SnakemakeArgsOption,
    StatusOption,
    VerboseOption,
    VersionOption,
    ViewOption,
)
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


@app.callback()
def _root(version: VersionOption = False, debug: DebugOption = False) -> None:
    # --debug is taken out of the arguments by main() before parsing: declared
    # here so that --help lists it
    del version, debug


@app.command(
    cls=_Command,
    help=EXPORT_HELP,
    short_help="Write a Snakefile, Airflow DAG, SLURM script, JSON or mermaid.",
)
def export(
    backend: BackendArg,
    targets: ExportTargets = None,
    output: OutputOption = None,
    repo: RepoOption = Path("."),
    config: ConfigOption = None,
    check: CheckOption = False,
    single_item: SingleItemOption = False,
    downstream: DownstreamOption = False,
    status: StatusOption = False,
    quiet: QuietOption = False,
    view: ViewOption = "dag",
    md: MdOption = False,
    repo_path: RepoPathOption = None,
    dag_id: DagIdOption = None,
    max_active_tasks: MaxActiveTasksOption = None,
    runner: ExportRunnerOption = "paraffin",
    profile: ProfileOption = None,
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
    _refuse_stray_options(chosen, options)
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
    null: NullOption = False,
    expect: ExpectOption = None,
) -> None:
    """Print the stages `dvc repro` would run now (DVC's status, and everything below)."""
    from .stale import print_stale

    raise _Exit(print_stale(repo, sys.stdout, null=null, expect=expect))


@app.command(
    cls=_Command, short_help="Reproduce the pipeline with Snakemake, as `dvc repro` would."
)
def run(
    targets: RunTargets = None,
    jobs: JobsOption = None,
    keep_going: KeepGoingOption = False,
    dry_run: DryRunOption = False,
    force: ForceOption = False,
    verbose: VerboseOption = False,
    repo: RepoOption = Path("."),
    config: ConfigOption = None,
    runner: RunRunnerOption = "paraffin",
    snakemake_args: SnakemakeArgsOption = None,
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


def _refuse_stray_options(backend: Backend, options: ExportOptions) -> None:
    stray = options.non_default() - backend.options
    if stray:
        names = ", ".join("--" + s.replace("_", "-") for s in sorted(stray))
        raise UsageError(f"{names} not used by the '{backend.name}' backend")


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
