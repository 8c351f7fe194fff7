"""Hostile foreach keys through the real engines: DVC loads them, Snakemake
plans the exact `dvc repro` call, SLURM's sbatch receives the exact address."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from itertools import groupby
from pathlib import Path

import yaml
from conftest import BIN, init_dvc_repo, run, tool_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paraffin_export.frontend import load_pipeline
from paraffin_export.runtime import verdict_script as jobscript

# DVC itself cannot address a foreach key holding '@' (it splits names on the
# last '@'), nor one with ':' or '/' (read as a file path): those stay out.
HOSTILE = list("-. '\"$`{}()[];&|<>#%\\*?!~^=,+")
KEYS = st.text(
    st.one_of(
        st.sampled_from(HOSTILE),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp", "Zs")),
    ),
    min_size=1,
    max_size=10,
).filter(lambda k: k.strip() == k and "${" not in k and not set(k) & set("@:/"))
ENGINE_SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))


def _project(tmp: Path, keys: list[str]) -> Path:
    doc = {
        "stages": {
            "w": {
                "foreach": {key: f"f{i}" for i, key in enumerate(keys)},
                "do": {"cmd": "echo ${item} > out_${item}.txt", "outs": ["out_${item}.txt"]},
            }
        }
    }
    root = tmp / f"p{len(list(tmp.iterdir()))}"
    return init_dvc_repo(root, {"dvc.yaml": yaml.safe_dump(doc, allow_unicode=True)})


@ENGINE_SETTINGS
@given(st.lists(KEYS, min_size=1, max_size=12, unique=True))
def test_snakemake_runs_exactly_the_dvc_call(tmp_path_factory, keys: list[str]) -> None:  # type: ignore[no-untyped-def]
    root = _project(tmp_path_factory.mktemp("snk"), keys)
    addresses = {s.address for s in load_pipeline(root).stages}
    assert addresses == {f"w@{k}" for k in keys}
    prefix = "Shell command: "
    run([str(BIN / "paraffin"), "export", "snakemake", "--runner", "dvc"], root)
    proc = run([str(BIN / "snakemake"), "-n", "-p", "-j", "1"], root)
    printed = proc.stdout + proc.stderr
    dvc = '"${PARAFFIN_DVC:-dvc}" '  # `paraffin run` names its dvc there
    calls = [ln[len(prefix) :] for ln in printed.splitlines() if ln.startswith(prefix + dvc)]
    seen = set()
    for line in calls:
        argv = shlex.split(line)
        assert argv[:5] == [dvc[1:-2], "--wait-for-lock", "repro", "--single-item", "--"], argv
        seen.add(argv[5])
        assert argv[6:] == [">", argv[7], "2>&1"], argv
    assert seen == addresses, printed
    # the default runner: addresses never reach a shell, only rule names do
    run([str(BIN / "paraffin"), "export", "snakemake"], root)
    proc = run([str(BIN / "snakemake"), "-n", "-p", "-j", "1"], root)
    printed = proc.stdout + proc.stderr
    calls = [
        ln[len(prefix) :]
        for ln in printed.splitlines()
        if ln.startswith(prefix) and ln != prefix + "None"  # rule all has no shell
    ]
    rules = set()
    for line in calls:
        # `exec >LOG 2>&1; set -- RULE; . job.sh`, sourced by Snakemake's sh
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";")  # a quoted ";" stays
        lexer.whitespace_split = True
        redirect, rule, source = (list(g) for sep, g in groupby(lexer, ";".__eq__) if not sep)
        assert len(redirect) == 3 and redirect[0] == "exec" and redirect[2] == "2>&1", line
        assert redirect[1].startswith(">.paraffin/logs/"), line
        assert rule[:2] == ["set", "--"] and rule[2].isidentifier() and len(rule) == 3, line
        assert source == [".", os.fspath(jobscript.SCRIPT)], line
        rules.add(rule[2])
    assert len(rules) == len(addresses), printed


RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["SBATCH_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "stage": os.environ.get("PARAFFIN_STAGE")}) + "\\n")
print(len(open(os.environ["SBATCH_LOG"]).readlines()))
"""


@ENGINE_SETTINGS
@given(st.lists(KEYS, min_size=1, max_size=12, unique=True))
def test_slurm_script_hands_sbatch_the_exact_address(tmp_path_factory, keys: list[str]) -> None:  # type: ignore[no-untyped-def]
    import json

    tmp = tmp_path_factory.mktemp("slurm")
    root = _project(tmp, keys)
    fake = tmp / "bin"
    fake.mkdir()
    for name, body in {"sbatch": RECORDER, "squeue": "#!/bin/sh\nexit 0\n"}.items():
        (fake / name).write_text(body)
        (fake / name).chmod((fake / name).stat().st_mode | stat.S_IEXEC)
    run([str(BIN / "paraffin"), "export", "slurm"], root)
    (script,) = [p for p in root.iterdir() if p.suffix == ".sh"]
    log = tmp / "sbatch.jsonl"
    env = tool_env(SBATCH_LOG=str(log), PATH=f"{fake}{os.pathsep}{tool_env()['PATH']}")
    proc = subprocess.run(["bash", str(script)], cwd=tmp, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert {c["stage"] for c in calls} == {f"w@{k}" for k in keys}
    for call in calls:
        names = [a for a in call["argv"] if a.startswith("--job-name=")]
        assert names and call["stage"] in names[0], call
