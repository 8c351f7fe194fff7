"""The generated Snakefile as Snakemake sees it: lint, the exact DVC call each
rule makes, rule names, the DVC root from any directory, a stale Snakefile."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

import pytest
import yaml
from conftest import BIN, paraffin, run, tool_env
from snakemake_support import SNAKEFILE, snakemake

from paraffin_export.backends import get_backend
from paraffin_export.backends.base import ExportOptions
from paraffin_export.backends.snakemake import (
    RESERVED,
    param_literal,
    pystr,
    root_from_snakefile,
    rule_names,
)
from paraffin_export.errors import BackendError
from paraffin_export.ir import Labels, Pipeline, Stage

# Every kind of name DVC accepts and a shell or Snakemake could trip over.
HOSTILE_KEYS = [
    "it's",
    'say "hi"',
    "$(touch pwned)",
    "`touch pwned`",
    "{x}",
    "{{y}}",
    "a b",
    "größe",
    "semi;colon",
    "back\\slash",
    "new\nline",
    "tab\there",
    "-dash",
    "%s %(x)s",
    "*glob?",
]
HOSTILE_YAML = "stages:\n  w:\n    foreach:\n" + "".join(
    f"      {json.dumps(key)}: f{i}\n" for i, key in enumerate(HOSTILE_KEYS)
)
HOSTILE_YAML += """\
    do:
      cmd: echo ${item} > w_${item}.txt
      outs: ["w_${item}.txt"]
  -top:
    cmd: echo t > top.txt
    outs: [top.txt]
  all:
    cmd: cat top.txt > all.txt
    deps: [top.txt]
    outs: [all.txt]
"""
ADDRESSES = [f"w@{key}" for key in HOSTILE_KEYS] + ["-top", "all"]

FAKE_DVC = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["ARGV_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def _stage(address: str, **kw: object) -> Stage:
    return Stage(address=address, name=address, dvcfile="dvc.yaml", wdir=".", cmd=("true",), **kw)  # type: ignore[arg-type]


@pytest.mark.engine
def test_each_rule_calls_dvc_with_exactly_its_address(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A fake `dvc` first on PATH records its argv: each job passes the address
    through the shell unchanged, whatever it contains."""
    root = dvc_repo({"dvc.yaml": HOSTILE_YAML})
    export = ("export", "snakemake", "-C", root, "-o", root / SNAKEFILE, "--runner", "dvc")
    assert paraffin(*export).code == 0
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "dvc").write_text(FAKE_DVC)
    (fake / "dvc").chmod(0o755)
    argv_log = tmp_path / "argv.jsonl"
    env = tool_env(ARGV_LOG=str(argv_log))
    env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    cmd = [str(BIN / "snakemake"), "-s", str(root / SNAKEFILE), "-j", "4"]
    run(cmd, tmp_path, env=env)
    calls = sorted(json.loads(line) for line in argv_log.read_text().splitlines())
    want = sorted(["--wait-for-lock", "repro", "--single-item", "--", a] for a in ADDRESSES)
    assert calls == want
    assert not list(tmp_path.rglob("pwned"))


@pytest.mark.engine
def test_paraffin_runner_runs_every_hostile_stage_as_dvc_repro(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The default runner on names a shell or Snakemake could trip over: every
    stage's command runs once with DVC_STAGE set to its address, and the
    project ends up as `dvc repro` leaves it (status clean, all in dvc.lock)."""
    hostile = HOSTILE_YAML.replace(
        "cmd: echo ${item} > w_${item}.txt",
        'cmd: printf "%s\\0" "$DVC_STAGE" >> "$STAGE_LOG" && echo ${item} > w_${item}.txt',
    )
    root = dvc_repo({"dvc.yaml": hostile})
    assert paraffin("export", "snakemake", "-C", root, "-o", root / SNAKEFILE).code == 0
    stage_log = tmp_path / "stages.log"
    cmd = [str(BIN / "snakemake"), "-s", str(root / SNAKEFILE), "-j", "4"]
    run(cmd, tmp_path, env=tool_env(STAGE_LOG=str(stage_log)))
    seen = sorted(stage_log.read_text().split("\0")[:-1])
    assert seen == sorted(a for a in ADDRESSES if a.startswith("w@"))
    assert not list(tmp_path.rglob("pwned"))
    status = run([str(BIN / "dvc"), "status", "--json"], root).stdout
    assert json.loads(status or "{}") == {}
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert len(lock["stages"]) == len(ADDRESSES)


@pytest.mark.engine
def test_lint_shows_only_the_conda_container_advice(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo({"dvc.yaml": HOSTILE_YAML})
    assert paraffin("export", "snakemake", "-C", root, "-o", root / SNAKEFILE).code == 0
    # (Snakemake 9.27 ignores `--lint json`: read the text form)
    cmd = [str(BIN / "snakemake"), "-s", str(root / SNAKEFILE), "--lint"]
    text = run(cmd, tmp_path, check=False).stderr
    headers = [line for line in text.splitlines() if line.startswith("Lints for")]
    bullets = {line.strip() for line in text.splitlines() if line.startswith("    * ")}
    assert all(h.startswith("Lints for rule ") for h in headers), headers
    assert len(headers) == len(ADDRESSES)
    assert bullets == {"* Specify a conda environment or container for each rule.:"}
    # --lint never builds a DAG, so it must not have asked DVC anything
    assert not (root / ".paraffin" / "done").exists()


def test_rule_names_avoid_python_and_snakemake_names() -> None:
    addresses = ["all", "rule", "input", "output", "params", "log", "shell", "config"]
    addresses += ["workflow", "rules", "checkpoints", "class", "print", "Train", "train"]
    addresses += ["prepare-data", "prepare_data", "sub/dvc.yaml:x", "2x", "ok"]
    pipeline = Pipeline(stages=tuple(_stage(a) for a in addresses))
    names = rule_names(pipeline)
    assert len({n.casefold() for n in names.values()}) == len(addresses)
    for address, name in names.items():
        assert name.isidentifier() and name not in RESERVED, (address, name)
    # legal names stay; of two names equal but for case, the later one changes
    assert names["ok"] == "ok" and names["Train"] == "Train" and names["train"] != "train"


@pytest.mark.parametrize(
    ("output", "root"),
    [
        (None, "."),
        ("Snakefile", "."),
        (".paraffin/Snakefile", ".."),
        ("a/b/Snakefile", "../.."),
        ("../wf/Snakefile", "../proj"),
        ("../../x/y/Snakefile", "../../p/proj"),
    ],
)
def test_root_relative_to_the_snakefile(output: str | None, root: str) -> None:
    pipeline = Pipeline(stages=(_stage("a"),), root="/base/p/proj")
    options = ExportOptions(output=None if output is None else PurePosixPath(output))
    assert root_from_snakefile(pipeline, options) == root


def test_literals_are_python_and_free_of_wildcards() -> None:
    for key in HOSTILE_KEYS:
        assert eval(pystr(key)) == key  # noqa: S307 - the point is Python's own reading
        value = eval(param_literal(key))  # noqa: S307
        assert (value(None) if callable(value) else value) == key
        if "{" in key or "}" in key:
            assert callable(value)


def test_bad_labels_and_runner_are_errors() -> None:
    backend = get_backend("snakemake")
    bad = Pipeline(stages=(_stage("a", labels=Labels(resources=(("mem-mb", 1),))),))
    with pytest.raises(BackendError, match="mem-mb"):
        backend.render(bad, ExportOptions())
    with pytest.raises(BackendError, match="unknown runner"):
        backend.render(Pipeline(stages=(_stage("a"),)), ExportOptions(runner="nope"))


@pytest.mark.engine
def test_changed_dependencies_stop_a_stale_snakefile(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Editing a cmd needs no re-export; a new dependency does, and the old
    Snakefile says so instead of running the wrong graph. `paraffin run`
    re-exports, so it just works."""
    yaml = "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
    yaml += "  b:\n    cmd: echo b > b.txt\n    outs: [b.txt]\n"
    root = dvc_repo({"dvc.yaml": yaml})
    assert paraffin("export", "snakemake", "-C", root, "-o", root / SNAKEFILE).code == 0
    # `--directory` elsewhere would run DVC outside the root: refused, not obeyed
    moved = snakemake(root, "--directory", str(tmp_path), runlog=tmp_path / "log")
    assert moved.returncode != 0 and "must run in the DVC root" in moved.stderr
    dvc_yaml = root / "dvc.yaml"
    dvc_yaml.write_text(yaml.replace("echo b > b.txt", "cat a.txt > b.txt\n    deps: [a.txt]"))
    result = snakemake(root, runlog=tmp_path / "log")
    assert result.returncode != 0
    assert "dependencies changed since this Snakefile was written, for 'b'" in result.stderr
    assert "paraffin run" in result.stderr
    assert paraffin("run", "-C", root, "-j", "2").code == 0
    assert (root / "b.txt").read_text() == "a\n"


def test_stale_rules_follow_dvc_repro() -> None:
    """Own status, or anything upstream stale; frozen stops the flow but a
    frozen stage with changed outputs is still verified (gets a job)."""
    from paraffin_export.snakemake_plan import StageState, stale_rules

    #  a -> b -> c ;  f (frozen) -> g ;  x (always changed) -> y ;  u (unknown)
    after = {"a": [], "b": ["a"], "c": ["b"], "f": [], "g": ["f"], "x": [], "y": ["x"]}
    after |= {"u": [], "h": []}
    address = {rule: f"dvc.yaml:{rule}" for rule in after}

    def states(**changed: bool | None) -> dict[str, StageState]:
        return {
            address[r]: StageState(
                address[r], changed.get(r, False), frozen=r == "f", always_changed=r == "x"
            )
            for r in after
        }

    assert stale_rules(address, after, states(x=True, u=None)) == {"x", "y", "u"}
    assert stale_rules(address, after, states(x=True, b=True)) >= {"b", "c"}
    assert "a" not in stale_rules(address, after, states(x=True, b=True))
    # a frozen stage with changed outputs: a job (DVC verifies, never runs it), no flow
    assert stale_rules(address, after, states(x=True, f=True)) == {"x", "y", "f"}
    assert stale_rules(address, after, states(x=True, g=True)) == {"x", "y", "g"}


@pytest.mark.engine
def test_paraffin_run_targets_like_dvc_repro_targets(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`paraffin run B` runs B and what is upstream of it, nothing else."""
    yaml = "stages:\n"
    yaml += "  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
    yaml += "  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n"
    yaml += "  c:\n    cmd: cat b.txt > c.txt\n    deps: [b.txt]\n    outs: [c.txt]\n"
    yaml += "  other:\n    cmd: echo o > o.txt\n    outs: [o.txt]\n"
    root = dvc_repo({"dvc.yaml": yaml})
    assert paraffin("run", "-C", root, "-j", "2", "b").code == 0
    assert (root / "b.txt").exists() and not (root / "c.txt").exists()
    assert not (root / "o.txt").exists()
    text = (root / SNAKEFILE).read_text()
    assert "\nrule a:" in text and "\nrule b:" in text
    assert "\nrule c:" not in text and "\nrule other:" not in text


def test_only_snakemakes_leftover_timers_are_cancelled() -> None:
    """The rate limiter's re-evaluation timers would hold the exit for a second."""
    import threading

    from paraffin_export import snakemake_plan

    def rearm() -> None:  # what snakemake's scheduler arms
        pass

    rearm.__module__ = snakemake_plan._SCHEDULER
    theirs, other = threading.Timer(30, rearm), threading.Timer(30, lambda: None)
    theirs.start()
    other.start()
    try:
        snakemake_plan._cancel_reevaluation_timers()
        theirs.join(5)
        assert not theirs.is_alive()
        assert other.is_alive() and not other.finished.is_set()
    finally:
        other.cancel()
