"""The command line's arguments and options, declared once (`cli` uses them).

Help texts sit on the options; the arguments' help is repeated in each
command's help text, because typer < 0.26 under click >= 8.2 drops it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .backends import REGISTRY


def _show_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"paraffin-export {__version__}")
        raise typer.Exit(0)


# the program's own
VersionOption = Annotated[
    bool,
    typer.Option(
        "--version", is_eager=True, callback=_show_version, help="Show the version and exit."
    ),
]
DebugOption = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="On an error, show its traceback; log DVC's and paraffin's debug messages.",
    ),
]

# shared by several commands
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", metavar="FILE", help="paraffin.yaml to use (default: in the root)."),
]
RepoOption = Annotated[
    Path,
    typer.Option("-C", "--repo", metavar="DIR", help="Start looking for the DVC root here."),
]

# export
BackendArg = Annotated[
    str,
    typer.Argument(
        metavar="BACKEND", help=f"One of {', '.join(sorted(REGISTRY))}.", show_default=False
    ),
]
ExportTargets = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="TARGETS",
        help="Stages: addresses, group names, dvc.yaml paths or globs.",
    ),
]
OutputOption = Annotated[
    str | None,
    typer.Option(
        "-o",
        "--output",
        metavar="PATH",
        help="File or directory to write; '-' for stdout (default: in the DVC root).",
    ),
]
CheckOption = Annotated[
    bool, typer.Option("--check", help="Write nothing; exit 1 with a diff if stale.")
]
SingleItemOption = Annotated[bool, typer.Option("--single-item", help="Only the named stages.")]
DownstreamOption = Annotated[
    bool, typer.Option("--downstream", help="The named stages and all below them.")
]
StatusOption = Annotated[bool, typer.Option("--status", help="Ask DVC which stages are changed.")]
QuietOption = Annotated[
    bool, typer.Option("-q", "--quiet", help="Print nothing when the file is written.")
]
ViewOption = Annotated[
    str,
    typer.Option(
        metavar="dag|levels", help="mermaid: the DAG, or the levels that run in parallel."
    ),
]
MdOption = Annotated[
    bool, typer.Option("--md", help="mermaid: wrap in a ```mermaid block for Markdown.")
]
RepoPathOption = Annotated[
    str | None,
    typer.Option(metavar="DIR", help="airflow: the DVC root on the workers."),
]
DagIdOption = Annotated[str | None, typer.Option(metavar="ID", help="airflow: the DAG id.")]
MaxActiveTasksOption = Annotated[
    int | None,
    typer.Option(metavar="N", help="airflow: tasks running at once."),
]
ExportRunnerOption = Annotated[
    str,
    typer.Option(
        metavar="paraffin|dvc",
        help="snakemake: how rules run a stage: `paraffin` (commands in jobs, DVC's"
        " bookkeeping batched in the main process) or `dvc` (one `dvc repro` per job).",
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(metavar="NAME", help="snakemake: also write profiles/NAME (slurm)."),
]

# stale
NullOption = Annotated[
    bool, typer.Option("-0", "--null", help="End each address with NUL, not newline.")
]
ExpectOption = Annotated[
    str | None,
    typer.Option(
        metavar="JSON",
        help="The graph a SLURM submit script was exported with; exit 2 if changed.",
    ),
]

# run
RunTargets = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="TARGETS",
        help="Stages to reproduce, with everything upstream (default: all).",
    ),
]
JobsOption = Annotated[
    int | None,
    typer.Option("-j", "--jobs", metavar="N", help="Jobs at once (default: CPU count)."),
]
KeepGoingOption = Annotated[
    bool, typer.Option("-k", "--keep-going", help="Go on with independent stages.")
]
DryRunOption = Annotated[bool, typer.Option("-n", "--dry-run", help="Show the jobs, run nothing.")]
ForceOption = Annotated[
    bool,
    typer.Option(
        "-f",
        "--force",
        help="Rerun the stages even if DVC finds them unchanged (dvc repro -f).",
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option("-v", "--verbose", help="Also show Snakemake's messages for every job."),
]
RunRunnerOption = Annotated[
    str,
    typer.Option(metavar="paraffin|dvc", help="How rules run a stage (see `export --help`)."),
]
SnakemakeArgsOption = Annotated[
    str | None,
    typer.Option(
        metavar="ARGS",
        help="More snakemake options, shell-quoted: '--executor slurm ...'.",
    ),
]
