"""The command line. The only place that turns errors into exit codes:
0 ok, 1 `--check` found a stale file, 2 bad input or usage."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from . import __version__
from .backends import REGISTRY, ExportOptions, get_backend
from .errors import ParaffinError
from .export import ExportRequest, run_export
from .selection import Mode

app = typer.Typer(
    name="paraffin",
    help="Compile a DVC project into a Snakemake, Airflow or mermaid workflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Options several commands share, declared once.
RepoOption = Annotated[
    Path, typer.Option("-C", "--repo", help="Start looking for the DVC root here.")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="paraffin.yaml to use.")]

BACKENDS_HELP = "Backend: " + "; ".join(f"{n} ({b.help})" for n, b in sorted(REGISTRY.items()))


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Show the version.")] = False,
) -> None:
    if version:
        typer.echo(f"paraffin-export {__version__}")
        raise _Exit(0)


@app.command()
def export(
    backend: Annotated[str, typer.Argument(help=BACKENDS_HELP, show_default=False)],
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Stages: addresses, group names, dvc.yaml paths or globs."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="File or directory to write; '-' for stdout."),
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
    view: Annotated[
        str, typer.Option(help="mermaid: 'dag' or 'levels'.", rich_help_panel="mermaid")
    ] = "dag",
    md: Annotated[
        bool, typer.Option("--md", help="mermaid: wrap for Markdown.", rich_help_panel="mermaid")
    ] = False,
    repo_path: Annotated[
        str | None,
        typer.Option(help="airflow: DVC root on the workers.", rich_help_panel="airflow"),
    ] = None,
    dag_id: Annotated[
        str | None, typer.Option(help="airflow: the DAG id.", rich_help_panel="airflow")
    ] = None,
    max_active_tasks: Annotated[
        int | None,
        typer.Option(help="airflow: tasks running at once.", rich_help_panel="airflow"),
    ] = None,
    runner: Annotated[
        str,
        typer.Option(
            help="snakemake: how rules run a stage: `paraffin` (commands in jobs, DVC's"
            " bookkeeping batched in the main process) or `dvc` (one `dvc repro` per job).",
            rich_help_panel="snakemake",
        ),
    ] = "paraffin",
    profile: Annotated[
        str | None,
        typer.Option(help="snakemake: also write profiles/NAME.", rich_help_panel="snakemake"),
    ] = None,
) -> None:
    """Write the workflow for BACKEND (see the list above)."""
    if single_item and downstream:
        raise click.UsageError("--single-item and --downstream exclude each other")
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
        raise click.UsageError(f"{names} not used by the '{chosen.name}' backend")
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
    )
    raise _Exit(run_export(request, sys.stdout, sys.stderr))


@app.command()
def stale(
    repo: RepoOption = Path("."),
    null: Annotated[
        bool, typer.Option("-0", "--null", help="End each address with NUL, not newline.")
    ] = False,
) -> None:
    """Print the stages `dvc repro` would run now (DVC status, plus everything downstream)."""
    from .stale import print_stale

    raise _Exit(print_stale(repo, sys.stdout, null=null))


@app.command()
def run(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Stages to reproduce, with everything upstream (default: all)."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("-j", "--jobs", help="Jobs at once (default: CPU count).")
    ] = None,
    keep_going: Annotated[
        bool, typer.Option("-k", "--keep-going", help="Go on with independent stages.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("-n", "--dry-run", help="Show the jobs, run nothing.")
    ] = False,
    repo: RepoOption = Path("."),
    config: ConfigOption = None,
    runner: Annotated[
        str, typer.Option(help="How rules run a stage: paraffin or dvc.")
    ] = "paraffin",
    snakemake_args: Annotated[
        str | None,
        typer.Option(help="More snakemake options, shell-quoted: '--executor slurm ...'."),
    ] = None,
) -> None:
    """Export .paraffin/Snakefile and run it with Snakemake; exits with Snakemake's code."""
    from .run import RunRequest, run_pipeline, split_args

    request = RunRequest(
        targets=tuple(targets or ()),
        jobs=jobs,
        keep_going=keep_going,
        dry_run=dry_run,
        start=repo,
        config=config,
        runner=runner,
        snakemake_args=split_args(snakemake_args),
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
        app(args=args, prog_name="paraffin", standalone_mode=False)
        return 0
    except _Exit as done:
        return done.code
    except ParaffinError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show(file=sys.stderr)
        return 2
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
