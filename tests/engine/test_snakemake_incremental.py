"""Issue 3's incremental table: after every change, `snakemake -j 8` on the
exported Snakefile runs exactly the stage commands that `dvc repro` runs on a
twin repository, and both end with the same dvc.lock: for both runners (the
default `paraffin`, with DVC's bookkeeping batched in the main process, and
the conservative `dvc`, one `dvc repro --single-item` per job).

One project walks through the nine scenarios in order (each builds on the
state the previous one left), with the twin taking the same steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BIN, run
from snakemake_support import Pair, dvc_status, locks

LOG = 'echo {} >> "$RUNLOG"'

DVC_YAML = f"""\
stages:
  prepare:
    cmd: {LOG.format("prepare")} && cp data.txt prepared.txt
    deps: [data.txt]
    outs: [prepared.txt]
  featurize:
    foreach: [a, b, c]
    do:
      cmd: {LOG.format("featurize@${item}")} && cat prepared.txt > feat_${{item}}.txt
      deps: [prepared.txt]
      outs: ["feat_${{item}}.txt"]
  train:
    cmd: >-
      {LOG.format("train")} && cat feat_a.txt feat_b.txt feat_c.txt > model.txt
      && grep lr params.yaml >> model.txt
    deps: [feat_a.txt, feat_b.txt, feat_c.txt]
    params: [train.lr]
    outs: [model.txt]
  summarize:
    cmd: {LOG.format("summarize")} && wc -l < model.txt > summary.txt
    deps: [model.txt]
    outs: [summary.txt]
  report:
    cmd: {LOG.format("report")} && cp summary.txt report.txt
    deps: [summary.txt]
    outs: [report.txt]
  stamp:
    cmd: {LOG.format("stamp")} && echo fixed > stamp.txt
    outs: [stamp.txt]
  after_stamp:
    cmd: {LOG.format("after_stamp")} && cp stamp.txt after_stamp.txt
    deps: [stamp.txt]
    outs: [after_stamp.txt]
  side:
    cmd: {LOG.format("side")} && cp data.txt side.txt
    deps: [data.txt]
    outs: [side.txt]
"""

FILES = {
    "dvc.yaml": DVC_YAML,
    "data.txt": "one\n",
    "params.yaml": "train:\n  lr: 0.1\nunused: 1\n",
    ".gitignore": ".snakemake/\n",
}

ALL = sorted(
    ["prepare", "featurize@a", "featurize@b", "featurize@c", "train", "summarize", "report"]
    + ["stamp", "after_stamp", "side"]
)


@pytest.mark.parametrize("runner", ["paraffin", "dvc"])
def test_incremental_table_matches_dvc_repro(tmp_path: Path, runner: str) -> None:
    pair = Pair.create(tmp_path, FILES, runner=runner)

    def check(name: str, expected: list[str] | None = None) -> str:
        got, want, result = pair.step(name)
        assert got == want, f"scenario {name}: snakemake ran {got}, dvc repro ran {want}"
        if expected is not None:
            assert got == sorted(expected), f"scenario {name}: {got}"
        assert locks(pair.sm) == locks(pair.twin), f"scenario {name}: dvc.lock differs"
        return result.stderr

    # 1. first run from scratch
    check("1-scratch", ALL)
    assert dvc_status(pair.sm) == dvc_status(pair.twin) == {}
    pair.both("git add -A && git commit -qm first")

    # 2. immediate second run: no stage command, and no job but `all`
    log = check("2-noop", [])
    assert "DVC reports 0 of 10 stages to run" in log
    assert "\nall          1\ntotal        1\n" in log

    # 3. a params value one stage uses (and one no stage uses); train's output
    # changes, summarize's (a line count) does not, so report must not run
    pair.both("sed -i 's/lr: 0.1/lr: 0.2/; s/unused: 1/unused: 2/' params.yaml")
    check("3-params", ["train", "summarize"])
    pair.both("git add -A && git commit -qm lr")

    # 4. a tracked input's content
    pair.both("echo two >> data.txt")
    check("4-input", [s for s in ALL if "stamp" not in s])

    # 5. a stage's cmd (the exported Snakefile is not touched)
    pair.both("sed -i 's/wc -l < model.txt/wc -l < model.txt | tr -d \" \"/' dvc.yaml")
    check("5-cmd", ["summarize"])

    # 6. a deleted output: DVC restores it from its cache, downstream is unchanged
    pair.both("rm feat_b.txt model.txt")
    check("6-deleted-output", [])

    # 7. git checkout of an older dvc.lock and params.yaml
    pair.both("git checkout HEAD~1 -- dvc.lock params.yaml")
    check("7-checkout")

    # 8. a stage reproduced by hand in between
    pair.both("sed -i 's/lr: 0.1/lr: 0.3/' params.yaml")
    for root in (pair.sm, pair.twin):
        run([str(BIN / "dvc"), "repro", "train"], root, env=_quiet_env(tmp_path))
    check("8-by-hand")

    # 9. always_changed runs every time, frozen never (not even on a changed dep)
    pair.both("sed -i 's/^  stamp:$/  stamp:\\n    always_changed: true/' dvc.yaml")
    pair.both(f"{BIN}/dvc freeze -q side")
    check("9-flags", ["stamp"])
    # a frozen stage's output edited by hand: `dvc repro` records the new hash
    # without running the command; so must we (dvc.lock is compared)
    pair.both("echo edited > side.txt")
    check("9-frozen-output", ["stamp"])
    pair.both("echo three >> data.txt")
    check("9-flags-again")
    assert dvc_status(pair.sm) == dvc_status(pair.twin) == {"stamp": ["always changed"]}


def _quiet_env(tmp_path: Path) -> dict[str, str]:
    from conftest import tool_env

    return tool_env(RUNLOG=str(tmp_path / "by-hand.log"))
