"""The SLURM workflow profile the snakemake backend writes with `--profile slurm`.

It carries everything `snakemake --executor slurm` needs beyond the Snakefile:
the status command and polling, default resources, and the `paraffin.yaml`
labels under the names snakemake-executor-plugin-slurm reads (`queue` becomes
`slurm_partition`, `threads` the rule's threads, which the plugin turns into
`--cpus-per-task`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..errors import BackendError
from ..ir import LabelValue, Pipeline, Stage
from ..render import render_template

PROFILES = ("slurm",)
# Resources snakemake-executor-plugin-slurm turns into sbatch options.
PLUGIN_RESOURCES = (
    "slurm_partition",
    "slurm_account",
    "cpus_per_task",
    "mem_mb",
    "mem",
    "runtime",
    "gpu",
    "gpu_model",
    "gres",
    "constraint",
    "qos",
    "nodes",
    "tasks",
    "slurm_extra",
)


def profile_extras(
    pipeline: Pipeline, profile: str | None, rule_names: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The `Rendered.extras` entry for ``--profile NAME`` (none without it);
    ``rule_names`` maps each stage address to its Snakemake rule name."""
    if profile is None:
        return ()
    if profile not in PROFILES:
        raise BackendError(f"unknown profile '{profile}' (available: {', '.join(PROFILES)})")
    directory = f"profiles/{profile}"
    text = render_template(
        "snakemake/profile-slurm.yaml.j2",
        profile_dir=directory,
        resources=[
            (rule_names[s.address], items)
            for s in pipeline.stages
            if (items := plugin_resources(s))
        ],
        threads=[
            (rule_names[s.address], s.labels.threads)
            for s in pipeline.stages
            if s.labels.threads is not None
        ],
    )
    return ((f"{directory}/config.yaml", text),)


def plugin_resources(stage: Stage) -> list[tuple[str, str]]:
    """(name, YAML value) pairs: integers bare, strings as quoted Python literals
    (Snakemake evaluates `set-resources` values as Python expressions)."""
    res: dict[str, LabelValue] = stage.labels.resource_dict()
    if stage.labels.queue is not None:
        res.setdefault("slurm_partition", stage.labels.queue)
    return [(name, _literal(res[name])) for name in PLUGIN_RESOURCES if name in res]


def _literal(value: LabelValue) -> str:
    if isinstance(value, int):
        return str(value)
    return json.dumps(repr(value), ensure_ascii=False)
