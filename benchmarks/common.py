"""Shared helpers for the benchmark scripts: generated projects, timing, reports."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Generated projects and raw JSON go here; run.py's --work/--out move them
# (the smoke test does, so it never overwrites real results).
WORK = Path(os.environ.get("PARAFFIN_BENCH_WORK", HERE / "_work"))
RESULTS = Path(os.environ.get("PARAFFIN_BENCH_RESULTS", HERE / "results"))
BIN = Path(sys.executable).parent


def env(bindir: Path = BIN) -> dict[str, str]:
    """The environment every tool runs in: ``bindir`` (this venv) first on PATH."""
    out = dict(os.environ)
    out["PATH"] = f"{bindir}{os.pathsep}{out.get('PATH', '')}"
    out["DVC_NO_ANALYTICS"] = "1"
    for key, value in {
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }.items():
        out.setdefault(key, value)
    return out


def sh(cmd: Sequence[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), cwd=cwd, env=env(), text=True, capture_output=True, check=True, **kwargs
    )  # type: ignore[call-overload]


def make_project(name: str, dvc_yaml: str, extra: dict[str, str] | None = None) -> Path:
    """A fresh git+DVC repository under benchmarks/_work/NAME."""
    root = WORK / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    sh(["git", "init", "-q"], root)
    sh([str(BIN / "dvc"), "init", "-q"], root)
    sh([str(BIN / "dvc"), "config", "core.analytics", "false"], root)
    (root / "dvc.yaml").write_text(dvc_yaml)
    for rel, text in (extra or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-qm", "init"], root)
    return root


def chain_yaml(n: int, cmd: str = "echo {i} > f{i}") -> str:
    lines = ["stages:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    cmd: {cmd.format(i=i)}", f"    outs: [f{i}]"]
        if i:
            lines.append(f"    deps: [f{i - 1}]")
    return "\n".join(lines) + "\n"


def wide_yaml(n: int, cmd: str = "echo {i} > out/w{i}", join: bool = True) -> str:
    lines = ["stages:"]
    for i in range(n):
        lines += [f"  w{i}:", f"    cmd: mkdir -p out && {cmd.format(i=i)}"]
        lines.append(f"    outs: [out/w{i}]")
    if join:
        lines += ["  join:", "    cmd: cat out/w* > joined", "    outs: [joined]", "    deps:"]
        lines += [f"      - out/w{i}" for i in range(n)]
    return "\n".join(lines) + "\n"


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, object]:
    return {
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def save(name: str, payload: dict[str, object]) -> Path:
    out = RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return out
