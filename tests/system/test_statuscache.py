"""`paraffin stale`'s status cache (issue 18) against `dvc status`: a
hypothesis state machine edits params, touches files with the same content,
changes content keeping size and mtime, deletes outputs and cache objects,
checks out older dvc.lock/params from git, edits dvc.yaml and reproduces;
after every step the cache (and `paraffin stale`'s quick path, `quick.py`)
never says "up to date" when DVC does not, the
statuses agree, and once DVC says all is clean the cache answers alone."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import BIN, init_dvc_repo, run
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paraffin_export import quick, stale, statuscache

DVC_YAML = """\
stages:
  gen:
    cmd: echo ${seed} > raw.txt
    outs: [raw.txt]
  split:
    cmd: mkdir -p d && cp raw.txt d/a.txt && echo b > d/b.txt
    deps: [raw.txt]
    outs: [d]
  fin:
    cmd: cat d/a.txt > fin.txt
    deps: [d]
    params: [lr]
    outs: [fin.txt]
"""
FILES = {"dvc.yaml": DVC_YAML, "params.yaml": "seed: 1\nlr: 1\n"}
OUTPUTS = ["raw.txt", "d/a.txt", "d/b.txt", "fin.txt"]


def dvc_changed(root: Path) -> set[str]:
    out = run([str(BIN / "dvc"), "status", "--json"], root).stdout
    return set(json.loads(out or "{}"))


def same_stat_change(path: Path) -> None:
    """Other bytes, same size, same mtime (what a stat-only cache would miss)."""
    st = path.stat()
    data = path.read_bytes()
    if path.name == "params.yaml":  # still valid params: lr's digit, 1 <-> 0
        flipped = data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]
    else:
        flipped = bytes([data[0] ^ 1]) + data[1:] if data else data
    path.write_bytes(flipped)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


class StatusMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="statuscache-"))
        self.root = init_dvc_repo(self.base / "p", FILES)
        run([str(BIN / "dvc"), "repro", "-q"], self.root)
        self.commits = [self.commit()]

    def commit(self) -> str:
        run(["git", "add", "-A"], self.root)
        run(["git", "commit", "-qm", "step", "--allow-empty"], self.root)
        return run(["git", "rev-parse", "HEAD"], self.root).stdout.strip()

    def teardown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def clean(self, fresh: bool) -> None:
        """Start the step from an up-to-date project whose status is recorded
        (the transitions where a wrong "up to date" could come from)."""
        if fresh:
            self.repro()
            stale.with_status(self.root)
            stale.with_status(self.root)

    @rule()
    def repro(self) -> None:
        run([str(BIN / "dvc"), "repro", "-q"], self.root, check=False)
        self.commits.append(self.commit())

    @rule(key=st.sampled_from(["seed", "lr"]), value=st.integers(1, 3), fresh=st.booleans())
    def edit_params(self, key: str, value: int, fresh: bool) -> None:
        self.clean(fresh)
        path = self.root / "params.yaml"
        lines = [
            f"{key}: {value}" if ln.startswith(f"{key}:") else ln
            for ln in path.read_text().splitlines()
        ]
        path.write_text("\n".join(lines) + "\n")

    @rule(name=st.sampled_from(OUTPUTS + ["params.yaml", "dvc.yaml"]), fresh=st.booleans())
    def touch_same_content(self, name: str, fresh: bool) -> None:
        self.clean(fresh)
        path = self.root / name
        if path.exists():
            path.write_bytes(path.read_bytes())

    @rule(name=st.sampled_from(OUTPUTS + ["params.yaml"]), fresh=st.booleans())
    def change_keeping_size_and_mtime(self, name: str, fresh: bool) -> None:
        self.clean(fresh)
        if (self.root / name).exists():
            same_stat_change(self.root / name)

    @rule(name=st.sampled_from(OUTPUTS + ["d"]), fresh=st.booleans())
    def delete_output(self, name: str, fresh: bool) -> None:
        self.clean(fresh)
        path = self.root / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)

    @rule(fresh=st.booleans())
    def drop_cache_object(self, fresh: bool) -> None:
        self.clean(fresh)
        objects = sorted((self.root / ".dvc/cache/files/md5").rglob("*"))
        files = [p for p in objects if p.is_file()]
        if files:
            files[len(files) // 2].unlink()

    @rule(
        back=st.integers(1, 3),
        what=st.sampled_from(["dvc.lock", "params.yaml"]),
        fresh=st.booleans(),
    )
    def checkout_older(self, back: int, what: str, fresh: bool) -> None:
        self.clean(fresh)
        commit = self.commits[max(0, len(self.commits) - 1 - back)]
        run(["git", "checkout", commit, "--", what], self.root, check=False)

    @rule(
        variant=st.sampled_from(["cat d/a.txt > fin.txt", "cat d/b.txt > fin.txt"]),
        fresh=st.booleans(),
    )
    def edit_dvc_yaml(self, variant: str, fresh: bool) -> None:
        self.clean(fresh)
        path = self.root / "dvc.yaml"
        lines = path.read_text().splitlines()
        lines = [f"    cmd: {variant}" if "> fin.txt" in ln else ln for ln in lines]
        path.write_text("\n".join(lines) + "\n")

    @invariant()
    def agrees_with_dvc_status(self) -> None:
        cached = statuscache.lookup(self.root)  # what the previous records claim now
        changed = dvc_changed(self.root)
        if cached is not None:
            assert changed == set(), f"cached 'up to date' but dvc status says {changed}"
        # the console script's quick path (`paraffin stale` before the CLI) answers alike
        if quick.answer(["stale", "-C", str(self.root)]) is not None:
            assert changed == set(), f"quick 'up to date' but dvc status says {changed}"
        ours = stale.with_status(self.root)
        assert {s.address for s in ours.stages if s.changed} == changed
        if not changed:  # recorded now (the IR itself cached by the first call)
            stale.with_status(self.root)
            assert statuscache.lookup(self.root) is not None


@pytest.mark.slow
def test_status_cache_never_disagrees_with_dvc_status() -> None:
    machine = StatusMachine.TestCase
    machine.settings = settings(
        max_examples=3,
        stateful_step_count=8,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine().runTest()
