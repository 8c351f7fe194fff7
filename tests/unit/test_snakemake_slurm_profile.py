"""`paraffin export snakemake --profile slurm`: the profile file, golden, and its
per-rule values parsed by Snakemake's own resource parser."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
import yaml
from conftest import GOLDEN
from golden_cases import materialize

from paraffin_export.backends import ExportOptions, get_backend
from paraffin_export.errors import BackendError
from paraffin_export.export import ExportRequest, prepare

PROFILE = "profiles/slurm/config.yaml"
EXPECTED = GOLDEN / "labels" / "expected" / "snakemake-profile-slurm" / PROFILE


def export(root: Path, profile: str | None) -> dict[str, str]:
    request = ExportRequest(
        backend=get_backend("snakemake"), options=ExportOptions(profile=profile), start=root
    )
    files = prepare(request)
    assert not isinstance(files, str)
    return {p.relative_to(root).as_posix(): text for p, text in files}


@pytest.fixture(scope="module")
def labels_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialize("labels", tmp_path_factory.mktemp("profile"))


def test_profile_is_golden(labels_case: Path, update_golden: bool) -> None:
    files = export(labels_case, "slurm")
    assert sorted(files) == ["Snakefile", PROFILE]
    if update_golden:
        EXPECTED.parent.mkdir(parents=True, exist_ok=True)
        EXPECTED.write_text(files[PROFILE], encoding="utf-8")
    assert files[PROFILE] == EXPECTED.read_text(encoding="utf-8")


def test_profile_values_parse_as_snakemake_reads_them(labels_case: Path) -> None:
    from snakemake.cli import parse_set_resources, parse_set_threads
    from snakemake.resources import Resources

    config = yaml.safe_load(export(labels_case, "slurm")[PROFILE])
    assert config["executor"] == "slurm"
    assert config["slurm-status-command"] == "squeue"
    # Snakemake turns profile mappings into RULE:NAME=VALUE arguments, then parses those
    assigns = [
        f"{rule}:{name}={value}"
        for rule, items in config["set-resources"].items()
        for name, value in items.items()
    ]
    parsed = {rule: dict(res.items()) for rule, res in parse_set_resources(assigns).items()}
    train = next(rule for rule in parsed if rule.startswith("train_rnn"))
    assert evaluate(parsed[train]["slurm_partition"]) == "gpu"
    assert evaluate(parsed[train]["mem_mb"]) == 32000
    report = next(rule for rule in parsed if rule.startswith("report"))
    assert evaluate(parsed[report]["slurm_extra"]) == "--qos=short"
    threads = parse_set_threads([f"{r}={n}" for r, n in config["set-threads"].items()])
    assert threads[train] == 4
    Resources.parse(
        [f"{k}={v}" for k, v in config["default-resources"].items()], allow_expressions=True
    )


def test_no_profile_without_the_option_and_unknown_profiles_refused(labels_case: Path) -> None:
    assert sorted(export(labels_case, None)) == ["Snakefile"]
    with pytest.raises(BackendError, match="unknown profile 'pbs'"):
        export(labels_case, "pbs")


def test_profile_sits_beside_the_snakefile(labels_case: Path) -> None:
    request = ExportRequest(
        backend=get_backend("snakemake"),
        options=ExportOptions(profile="slurm"),
        start=labels_case,
        output=str(labels_case / "wf" / "Snakefile"),
    )
    files = prepare(request)
    assert not isinstance(files, str)
    rel = sorted(PurePosixPath(p.relative_to(labels_case).as_posix()) for p, _ in files)
    assert rel == [PurePosixPath("wf/Snakefile"), PurePosixPath("wf") / PROFILE]


def evaluate(resource):  # type: ignore[no-untyped-def]
    """A resource's value as a job would see it (strings are Python expressions)."""
    if not resource.is_evaluable():
        return resource.value
    args = dict.fromkeys(("wildcards", "input", "attempt", "threads", "rulename", "async_run"))
    return resource.evaluate(**args).value
