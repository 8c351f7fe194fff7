"""The frontend reads dvc.lock under DVC's repo lock: a `dvc` process rewriting
dvc.lock at the same time never hands us a torn file."""

from __future__ import annotations

import subprocess
import time

from conftest import BIN, run, tool_env

from paraffin_export.frontend import load_pipeline

N = 40


def test_reads_during_concurrent_lock_rewrites(dvc_repo) -> None:  # type: ignore[no-untyped-def]
    lines = ["stages:"]
    for i in range(N):
        lines += [f"  s{i}:", f"    cmd: echo {i} > o{i}", f"    outs: [o{i}]"]
    root = dvc_repo({"dvc.yaml": "\n".join(lines) + "\n"})
    run(["dvc", "repro", "-q"], root, timeout=900)
    # `dvc commit -f` rewrites the whole dvc.lock in place, again and again.
    writer = subprocess.Popen(
        [
            "bash",
            "-c",
            f"for i in $(seq 12); do {BIN}/dvc --wait-for-lock commit -f -q s0 || exit 1; done",
        ],
        cwd=root,
        env=tool_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    reads = 0
    try:
        while writer.poll() is None and reads < 10:
            pipe = load_pipeline(root)
            assert sum(s.locked for s in pipe.stages) == N
            reads += 1
            time.sleep(0.0)
    finally:
        writer.wait(timeout=600)
    assert reads >= 3, "the writer finished before we could read alongside it"
    assert writer.returncode == 0, writer.stderr.read().decode() if writer.stderr else ""
