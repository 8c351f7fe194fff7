"""`snakemake`: a Snakefile with one rule per DVC stage; Snakemake schedules, DVC decides.

Every rule's job runs its stage from the DVC root (the Snakefile's
``workdir``), so a run started from any directory (`snakemake -s
path/Snakefile`) behaves the same. With the default `paraffin` runner the job
runs only the stage's command (`runtime/job.sh`) and one coordinator thread in
the Snakemake process does DVC's bookkeeping (`paraffin_export.runtime`); with
`--runner dvc` each job runs `dvc repro --single-item`. Either way DVC hashes,
caches and writes `dvc.lock`. Which stages get a job at all is decided by DVC
when the run starts (`runtime.plan`); Snakemake only sees marker files.

Label mapping (paraffin.yaml -> Snakefile):
  threads                -> `threads:` (a job takes that many of `--cores`/`-j`)
  retries                -> `retries:`
  resources.NAME: VALUE  -> `resources: NAME=VALUE`, passed through unchanged
                            (mem_mb, runtime in minutes, disk_mb, gpu, slurm_partition,
                            slurm_account, slurm_extra, ...: what executors read)
  queue                  -> `resources: slurm_partition=QUEUE` (the partition is what
                            snakemake-executor-plugin-slurm submits to; an explicit
                            resources.slurm_partition wins); no effect when running locally
  limit: N (on a glob)   -> a custom resource `limit_<glob id>=1` on every matching rule,
                            and `workflow.global_resources.setdefault(name, N)`, so a plain
                            `snakemake -j 8` runs at most N of them at once
                            (`--resources limit_<glob id>=M` on the command line overrides)
  pool                   -> nothing: an Airflow concept; use `limit` for a concurrency cap

`localrules: all` only: `all` does nothing but wait. Stage rules are never local,
since under a cluster executor the stage (and its DVC process) belongs on a node.
`--profile slurm` also writes profiles/slurm/config.yaml next to the Snakefile
(`snakemake --workflow-profile .../profiles/slurm`, see `snakemake_slurm`).

Requirements at run time: `paraffin_export` importable by the Python running
Snakemake (the Snakefile imports `paraffin_export.snakemake_plan`; install
`paraffin-export[snakemake]` in one environment, or use `paraffin run`), and for
`--runner dvc` a `dvc` on PATH for the jobs, or $PARAFFIN_DVC (`paraffin run` sets it).
"""

from __future__ import annotations

import builtins
import keyword
import os
import posixpath
import shlex
from dataclasses import dataclass

from ..errors import BackendError
from ..ir import LabelValue, Pipeline, Stage
from ..naming import log_names, make_identifiers
from ..paths import job_log, marker
from ..render import render_template
from .base import ExportOptions, Rendered
from .snakemake_slurm import profile_extras

# Names a rule must not take: the rule we add, Snakemake's directives and the
# names a Snakefile sees as globals, and Python's own. Rule names do not enter
# the globals, but `rules.<name>` and readers should never meet an ambiguity.
SNAKEMAKE_RESERVED = frozenset(
    """all PLAN paraffin wildcards attempt
    benchmark cache checkpoint conda config configfile container containerized cwl
    default_target envmodules envvars group handover include input inputflags localrule
    localrules log message meta_wrapper module name notebook onerror onstart onsuccess
    output outputflags params pathvars pepfile pepschema prefix priority replace_prefix
    report resource_scopes resources retries rule ruleorder run scattergather script
    shadow shell singularity skip_validation snakefile storage template_engine threads
    use wildcard_constraints workdir wrapper
    access ancient before_update branch checkpoints collect directory ensure evaluate
    exists expand flag from_queue gather github gitlab gitfile glob_wildcards local
    logger lookup multiext os pipe protected re rules scatter service snakemake subpath
    sys temp temporary touch unpack update workflow""".split()
)
RESERVED = SNAKEMAKE_RESERVED | set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins))


@dataclass(frozen=True)
class Runner:
    """How a rule runs its stage: one shell command, the same for every rule,
    formatted by Snakemake (``{params.stage:q}`` is the shell-quoted address),
    plus the comment lines that say so in the Snakefile."""

    name: str
    shell: str
    notes: tuple[str, ...]
    hooks: bool = False  # onstart/onsuccess/onerror drive `runtime.coordinator`
    job: bool = False  # params.job: job.sh, in the installed package
    # the shell Snakemake starts each job in (`shell.executable`); None: its bash
    executable: str | None = None


RUNNERS = {
    # the default: jobs run only the stage command; DVC works once, in batches,
    # in a process the main Snakemake process owns (see paraffin_export.runtime.coordproc)
    "paraffin": Runner(
        "paraffin",
        "exec >{log:q} 2>&1; set -- RULE; . {params.job:q}",
        (
            "Each rule's job runs its stage's command exactly as `dvc repro` would (in the",
            "stage's wdir, with $SHELL), without starting DVC: DVC's own work (status checks,",
            "run-cache restores, hashing, the cache, dvc.lock) is done by one DVC repo in a",
            "process of its own that lives and dies with this Snakemake process (it starts as",
            "the Snakefile is read; onstart/onsuccess/onerror below), in batches, as jobs finish.",
            "A job starts its command once the stages upstream of it are recorded and DVC still",
            "finds it changed. Export with `--runner dvc` for one `dvc repro` per stage instead.",
        ),
        hooks=True,
        job=True,
        executable="sh",
    ),
    "dvc": Runner(
        "dvc",
        # `--`: a stage named "-x" is an address, not an option. $PARAFFIN_DVC:
        # `paraffin run` names its own dvc without putting its venv on PATH.
        '"${{PARAFFIN_DVC:-dvc}}" --wait-for-lock repro --single-item -- {params.stage:q}'
        " > {log:q} 2>&1",
        (
            "Each rule runs one DVC stage with `dvc --wait-for-lock repro --single-item ADDRESS`,",
            "from the DVC root; inside a job DVC checks again and skips a stage that is up to date",
            "by then. $PARAFFIN_DVC names another dvc executable (`paraffin run` sets it).",
        ),
    ),
}


def rule_names(pipeline: Pipeline) -> dict[str, str]:
    """Stage address -> rule name: Python identifiers, unique even on
    case-insensitive filesystems (markers and logs are named after them)."""
    return make_identifiers(pipeline.by_address, reserved=RESERVED, case_insensitive=True)


def limit_resources(pipeline: Pipeline) -> dict[str, str]:
    """paraffin.yaml limit (a glob) -> custom resource name."""
    idents = make_identifiers((lim.name for lim in pipeline.limits), case_insensitive=True)
    return {name: f"limit_{ident}" for name, ident in idents.items()}


def root_from_snakefile(pipeline: Pipeline, options: ExportOptions) -> str:
    """The DVC root relative to the Snakefile's directory ('.' on stdout)."""
    if options.output is None:
        return "."
    folder = posixpath.dirname(options.output.as_posix())
    if folder != ".." and not folder.startswith("../"):
        depth = len([p for p in folder.split("/") if p not in ("", ".")])
        return "/".join([".."] * depth) or "."
    here = os.path.normpath(os.path.join(pipeline.root, folder))
    return os.path.relpath(pipeline.root, here).replace(os.sep, "/")


def comment(text: str) -> str:
    """Text safe inside a `#` comment: control characters (a newline would end
    the comment and start code) shown as escapes."""
    return "".join(repr(c)[1:-1] if not c.isprintable() else c for c in text)


def pystr(value: str) -> str:
    """``repr(value)``, in double quotes whenever repr would pick single quotes
    only for lack of a reason (the usual Snakefile style)."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        text = f'"{text[1:-1]}"'
    return text


def param_literal(value: str) -> str:
    """A params value Snakemake passes through verbatim: it expands `{...}` in
    plain string params as wildcards, but never the return value of a function."""
    if "{" in value or "}" in value:
        return f"lambda wildcards: {pystr(value)}"
    return pystr(value)


def plan_entry(rule: str, address: str, upstream: list[str], width: int = 99) -> str:
    """One line of the PLAN table, wrapped the way black would wrap it."""
    indent = " " * 8
    ups = f"[{', '.join(upstream)}]"
    line = f"{indent}{rule}: ({address}, {ups}),"
    if len(line) <= width:
        return line
    if len(indent) + 4 + len(ups) + 1 > width:
        ups = "[\n" + "".join(f"{indent}        {u},\n" for u in upstream) + f"{indent}    ]"
    return f"{indent}{rule}: (\n{indent}    {address},\n{indent}    {ups},\n{indent}),"


def resources(stage: Stage, limits: dict[str, str]) -> list[tuple[str, str]]:
    res: dict[str, LabelValue] = stage.labels.resource_dict()
    if stage.labels.queue is not None:
        res.setdefault("slurm_partition", stage.labels.queue)
    for name in res:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise BackendError(
                f"resource name '{name}' is not a Python identifier, as Snakemake needs",
                stage=stage.address,
            )
    items = [
        (name, pystr(value) if isinstance(value, str) else repr(value))
        for name, value in sorted(res.items())
    ]
    items += [(limits[lim], "1") for lim in stage.labels.limits]
    return items


class SnakemakeBackend:
    name = "snakemake"
    help = "a Snakefile: one rule per stage, scheduled by `snakemake -j N`"
    options = frozenset({"runner", "profile"})

    def output_name(self, pipeline: Pipeline, options: ExportOptions) -> str:
        return "Snakefile"

    def render(self, pipeline: Pipeline, options: ExportOptions) -> Rendered:
        if options.runner not in RUNNERS:
            raise BackendError(
                f"unknown runner '{options.runner}' (available: {', '.join(sorted(RUNNERS))})"
            )
        names = rule_names(pipeline)
        logs = log_names(pipeline.by_address)
        limits = limit_resources(pipeline)
        text = render_template(
            "snakemake/Snakefile.j2",
            root=pystr(root_from_snakefile(pipeline, options)),
            runner=RUNNERS[options.runner],
            export=_export_entry(options),
            stages=[
                _rule(pipeline, s, names, limits, RUNNERS[options.runner], logs)
                for s in pipeline.stages
            ],
            limits=[
                (pystr(limits[lim.name]), lim.slots, comment(lim.name)) for lim in pipeline.limits
            ],
        )
        return Rendered(text, profile_extras(pipeline, options.profile, names))


def _export_entry(options: ExportOptions) -> str | None:
    """``Plan``'s ``export``: (scope, command), wrapped as black would."""
    if options.command is None:
        return None
    line = f"({pystr(options.scope)}, {pystr(options.command)})"
    if len(line) + len("    export=,") <= 99:
        return line
    return f"(\n        {pystr(options.scope)},\n        {pystr(options.command)},\n    )"


def _rule(
    pipeline: Pipeline,
    stage: Stage,
    names: dict[str, str],
    limits: dict[str, str],
    runner: Runner,
    logs: dict[str, str],
) -> dict[str, object]:
    rule = names[stage.address]
    # the rule name is written out: `snakemake --lint` flags `{rule}` in a shell command
    shell = runner.shell.replace("RULE", shlex.quote(rule))
    upstream = [pystr(names[u]) for u in pipeline.upstream(stage.address)]
    return {
        "rule": rule,
        "entry": plan_entry(pystr(rule), pystr(stage.address), upstream),
        "title": comment(stage.address),
        "dvcfile": comment(stage.dvcfile),
        "name": pystr(rule),
        "marker": pystr(marker(rule)),
        "log": pystr(job_log(logs[stage.address])),
        "param": param_literal(stage.address),
        "threads": stage.labels.threads,
        "retries": stage.labels.retries,
        "resources": resources(stage, limits),
        "shell": pystr(shell),
    }
