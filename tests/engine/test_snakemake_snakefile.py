"""The generated Snakefile as Snakemake sees it: lint, the exact DVC call each
rule makes, rule names, the DVC root from any directory, a stale Snakefile."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from conftest import BIN, paraffin, run, tool_env
from snakemake_support import HOSTILE_KEYS, SNAKEFILE, snakemake

from paraffin_export.ir import Stage

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
    assert "this Snakefile is stale" in result.stderr
    assert "edge 'a' -> 'b' added" in result.stderr
    assert "paraffin run" in result.stderr
    assert paraffin("run", "-C", root, "-j", "2").code == 0
    assert (root / "b.txt").read_text() == "a\n"


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
