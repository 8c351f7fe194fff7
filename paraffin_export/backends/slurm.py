"""`slurm`: one bash script that submits one `sbatch` job per stale stage and exits.

Nothing stays on the login node: SLURM holds the DAG as `afterok` dependencies,
and `--kill-on-invalid-dep=yes` cancels whatever sits below a failed stage.
Which stages to submit is decided when the script runs (`paraffin stale`), not
at export time, so one exported script serves every later run.

Label mapping (paraffin.yaml -> sbatch):
  queue, resources.slurm_partition -> --partition
  threads (or resources.cpus_per_task) -> --cpus-per-task
  resources.mem_mb -> --mem=<n>M; mem -> --mem verbatim
  resources.runtime -> --time (minutes, or 30m, 2h, 1d)
  resources.gpu -> --gpus; gres -> --gres; slurm_account -> --account;
  constraint -> --constraint; slurm_extra -> extra sbatch words (shell-split)
  retries -> the job reruns a failed stage that many times
Other resources (engine-specific or custom tokens) have no sbatch meaning and are ignored.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import shlex
from dataclasses import dataclass

from ..errors import BackendError
from ..ir import LabelValue, Pipeline, Stage
from ..naming import make_identifiers
from ..paths import SLURM_DIR
from ..render import render_template
from .base import ExportOptions, Rendered

# resource name -> sbatch option taking the value verbatim
_VERBATIM = {
    "gres": "--gres",
    "slurm_account": "--account",
    "constraint": "--constraint",
    "mem": "--mem",
}
_INTEGER = {"mem_mb": "--mem={}M", "gpu": "--gpus={}", "cpus_per_task": "--cpus-per-task={}"}


@dataclass(frozen=True)
class Job:
    """One `stage` line of the script: index, address, file stem for its log and
    job id, upstream indices, retries and sbatch options."""

    index: int
    address: str
    stem: str
    upstream: str
    retries: int
    options: tuple[str, ...]


def sbatch_options(stage: Stage) -> tuple[str, ...]:
    """sbatch options from the stage's labels, in a fixed order."""
    labels = stage.labels
    res = labels.resource_dict()
    opts: list[str] = []
    partition = res.get("slurm_partition", labels.queue)
    if partition is not None:
        opts.append(f"--partition={partition}")
    threads = res.get("cpus_per_task", labels.threads)
    if threads is not None:
        opts.append(f"--cpus-per-task={_integer(stage, 'threads', threads)}")
    for name in ("mem_mb", "gpu"):
        if name in res:
            opts.append(_INTEGER[name].format(_integer(stage, name, res[name])))
    if "runtime" in res:
        opts.append(f"--time={_minutes(stage, res['runtime'])}")
    for name, option in _VERBATIM.items():
        if name in res:
            opts.append(f"{option}={res[name]}")
    if "slurm_extra" in res:
        opts.extend(_split_extra(stage, str(res["slurm_extra"])))
    return tuple(opts)


def _integer(stage: Stage, name: str, value: LabelValue) -> int:
    try:
        number = int(value)
    except ValueError:
        message = f"{name} must be an integer, not {value!r}"
        raise BackendError(message, stage=stage.address) from None
    if number < 0:
        raise BackendError(f"{name} must not be negative", stage=stage.address)
    return number


_UNITS = {"s": 1 / 60, "m": 1, "h": 60, "d": 24 * 60}


def _minutes(stage: Stage, value: LabelValue) -> str:
    """runtime in minutes, as Snakemake reads it: an integer, or `30m`, `2h`, `1d`;
    anything else is assumed to be in sbatch's own --time format."""
    text = str(value).strip()
    if text.isdigit():
        return text
    if text[:-1].isdigit() and text[-1:] in _UNITS:
        return str(max(1, math.ceil(int(text[:-1]) * _UNITS[text[-1]])))
    if not text or any(c.isspace() for c in text):
        raise BackendError(f"runtime {value!r} is not a duration", stage=stage.address)
    return text


def _split_extra(stage: Stage, text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BackendError(f"slurm_extra: {exc}", stage=stage.address) from None


def jobs(pipeline: Pipeline) -> list[Job]:
    # Case-folded: log files must not collide on case-insensitive filesystems.
    stems = make_identifiers((s.address for s in pipeline.stages), case_insensitive=True)
    index = {s.address: i for i, s in enumerate(pipeline.stages)}
    return [
        Job(
            index=index[s.address],
            address=s.address,
            stem=stems[s.address],
            upstream=" ".join(str(index[u]) for u in pipeline.upstream(s.address)),
            retries=s.labels.retries or 0,
            options=sbatch_options(s),
        )
        for s in pipeline.stages
    ]


def root_from(output: str | None, root: str) -> str | None:
    """How the script's directory reaches the DVC root (None: unknown, e.g. stdout)."""
    if output is None:
        return None
    folder = posixpath.dirname(str(output))
    if not folder:
        return "."
    return os.path.relpath(root, os.path.join(root, folder)).replace(os.sep, "/")


class SlurmBackend:
    name = "slurm"
    help = "a bash script that sbatch-es one job per stale stage (no process left running)"
    options: frozenset[str] = frozenset()

    def output_name(self, pipeline: Pipeline, options: ExportOptions) -> str:
        return "slurm-submit.sh"

    def render(self, pipeline: Pipeline, options: ExportOptions) -> Rendered:
        output = None if options.output is None else str(options.output)
        text = render_template(
            "slurm/submit.sh.j2",
            project=pipeline.project,
            jobs=jobs(pipeline),
            to_root=root_from(output, pipeline.root),
            script=output or "slurm-submit.sh",
            expect=expectation(pipeline, options),
            state_dir=SLURM_DIR,
        )
        return Rendered(text)


def expectation(pipeline: Pipeline, options: ExportOptions) -> str:
    """What `paraffin stale --expect` compares with the project (`drift`): the
    export's scope and command, the stages and the edges (as indices)."""
    if options.command is None:
        return ""
    index = {s.address: i for i, s in enumerate(pipeline.stages)}
    edges = sorted([index[u], index[d]] for u, d in pipeline.edges)
    doc = {"scope": options.scope, "command": options.command}
    doc |= {"stages": list(index), "edges": edges}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
