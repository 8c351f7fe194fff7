"""Verdicts compiled to POSIX sh, for the `paraffin` runner's fast job path.

`job.sh` sources ``verdict/RULE.sh``; what the script does is what
`paraffin_export.job` does with ``verdict/RULE.json`` (both are written, the
JSON first): print what DVC said, or run the stage's commands in its wdir with
DVC_ROOT/DVC_STAGE set, check the declared outputs, and journal the stage.
Every value from the project (addresses, commands, paths) is shell-quoted;
rule names are identifiers (`naming.make_identifiers`).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import messages as rf

SCRIPT = Path(__file__).with_name("job.sh")


def compile_verdict(rule: str, verdict: Mapping[str, Any], root: str) -> str:
    """The script for ``verdict`` (a `dvcops.run_verdict` or a done/fail one)."""
    q = shlex.quote
    if verdict["action"] == "done":
        return f"printf '%s\\n' {q(verdict.get('message', ''))}\nexit 0\n"
    if verdict["action"] != "run":
        message = verdict.get("message") or f"unknown verdict {verdict['action']!r}"
        return f"printf 'ERROR: %s\\n' {q(message)} >&2\nexit 1\n"
    address = verdict["address"]
    running = f"Running stage '{address}':"
    started = q(f"{rf.RUN_DIR}/{rf.STARTED}/{rule}")
    # the quotes and `$` in project strings are data, not shell
    lines = ["# shellcheck shell=sh disable=SC2016,SC2089,SC2090"]
    token = verdict.get("token")
    if token is not None:  # a job of an earlier run never runs this run's verdict
        lines.append(
            f'if [ "$paraffin_token" != {q(token)} ]; then'
            f" printf 'ERROR: %s\\n' {q(rf.FOREIGN)} >&2; exit 1; fi"
        )
    if verdict["remove"]:  # a Snakemake retry: clean up as `dvc repro` does before a run
        lines.append(f"if [ -e {started} ]; then rm -rf -- {_words(verdict['remove'])}; fi")
    lines += [
        f": >{started} || exit 1",
        f'if [ -z "${{DVC_ROOT+set}}" ]; then DVC_ROOT={q(os.path.realpath(root))}; fi',
        f"DVC_STAGE={q(address)}",
        "export DVC_ROOT DVC_STAGE",
        f"printf '%s\\n' {q(running)}",
    ]
    for cmd in verdict["cmd"]:
        failed = f"failed to reproduce '{address}': failed to run: {cmd}"
        lines.append(f"printf '%s\\n' {q('> ' + cmd)}")
        run = f"paraffin_run {q(verdict['wdir'])} {q(cmd)}"
        lines.append(f"{run} || paraffin_failed $? {q(failed)}")
    for out in verdict["outs"]:
        lines.append(f"paraffin_check_out {q(out)} {q(os.path.relpath(out, root))}")
    entry = {"address": address, "cmd": verdict["cmd"]}
    if token is not None:
        entry["token"] = token
    lines.append(f"paraffin_journal {q(json.dumps(entry, sort_keys=True))} || exit 1")
    return "\n".join(lines) + "\nexit 0\n"


def _words(paths: list[str]) -> str:
    return " ".join(shlex.quote(p) for p in paths)
