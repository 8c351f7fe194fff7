"""Faults during a real run: a stage command killed with SIGKILL. Afterwards
dvc.lock is valid YAML that DVC reads, no finished stage is lost, and the next
run completes the project exactly as `dvc repro` would."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import BIN, run
from snakemake_support import Pair, dvc_status, executed, locks

# `victim` SIGKILLs its own shell the first time it runs (the flag file sits
# outside every output), as the OOM killer would; the other stages are fine.
PROJECT = """\
stages:
  ok:
    foreach: [a, b, c, d]
    do:
      cmd: echo ${item} >> "$RUNLOG" && echo ${item} > ok_${item}.txt
      outs: ["ok_${item}.txt"]
  victim:
    cmd: >-
      echo victim >> "$RUNLOG" &&
      if [ ! -e "$(dirname "$RUNLOG")/killed" ]; then
      touch "$(dirname "$RUNLOG")/killed"; kill -9 $$; fi;
      echo v > victim.txt
    deps: [ok_a.txt]
    outs: [victim.txt]
  after:
    cmd: echo after >> "$RUNLOG" && cat victim.txt ok_b.txt > after.txt
    deps: [victim.txt, ok_b.txt]
    outs: [after.txt]
"""


def test_sigkilled_command_loses_nothing(tmp_path: Path) -> None:
    pair = Pair.create(tmp_path, {"dvc.yaml": PROJECT, ".gitignore": ".snakemake/\n"})
    first = pair.snakemake("first", "--keep-going")
    assert first.returncode != 0
    ran = executed(pair.logs / "first.sm")
    assert ran == ["a", "b", "c", "d", "victim"], ran
    lock = yaml.safe_load((pair.sm / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"ok@a", "ok@b", "ok@c", "ok@d"}
    # DVC itself still reads the whole project
    status = json.loads(run([str(BIN / "dvc"), "status", "--json"], pair.sm).stdout)
    assert set(status) == {"victim", "after"}

    second = pair.snakemake("second")
    assert second.returncode == 0, second.stderr
    assert executed(pair.logs / "second.sm") == ["after", "victim"]
    assert dvc_status(pair.sm) == {}

    pair.repro("twin")  # the flag is set by now: the twin's victim is not killed
    assert locks(pair.sm) == locks(pair.twin)
