"""The predecessor, paraffin 0.3.7, in a venv of its own (its console script is
also called `paraffin`: always called by full path).

    paraffin submit                  # DVC graph + status into ./paraffin.db
    paraffin worker --jobs 8 -t T    # 8 threads, each `dvc repro --single-item NAME`

A worker thread exits after T seconds without a ready job (T=0: at once, which
strands stages whose parents are still running), so the worker gets a long
timeout and the makespan ends when paraffin.db reports every stage completed;
then the worker is stopped. A stage is marked completed only after its
`dvc repro` exited and the worker re-read its lock entry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from common import HERE
from harness import Alt, BenchError, Opts, call, env_for, log_path

VENV = HERE / "_work" / "venv-paraffin037"
PARAFFIN037 = VENV / "bin" / "paraffin"
PINS = ("paraffin==0.3.7", "sqlmodel==0.0.22")  # newer sqlmodel crashes 0.3.7


def ensure_venv() -> Path:
    """(Re)create the venv when it is missing or broken."""
    check = [str(VENV / "bin" / "python"), "-c", "import paraffin.cli, sqlmodel"]
    if PARAFFIN037.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return PARAFFIN037
    print(f"  creating {VENV} ({', '.join(PINS)})", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *PINS], check=True)
    return PARAFFIN037


def _states(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
        return dict(con.execute("SELECT status, count(*) FROM stage GROUP BY status").fetchall())


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """Stop the worker and any `dvc repro` it still runs (a failed run leaves
    some behind, writing into the project), by the session we gave it."""
    try:
        os.killpg(worker.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    worker.wait()
    for _ in range(100):  # children outlive the worker by a moment
        try:
            os.killpg(worker.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)


def paraffin037_alt(opts: Opts, timeout_s: float = 3600) -> Alt:
    def run(root: Path) -> tuple[float, dict[str, float]]:
        exe = ensure_venv()
        environ = env_for(opts, VENV / "bin")  # its own dvc, as installed
        start = time.perf_counter()
        call([exe, "submit"], root, log_path(root, "paraffin037-submit"), env=environ)
        submitted = time.perf_counter() - start
        log = log_path(root, "paraffin037-worker").open("w")
        worker = subprocess.Popen(
            [str(exe), "worker", "--jobs", str(opts.jobs), "--timeout", "600"],
            cwd=root,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its `dvc repro` children are stopped with it
        )
        try:
            while True:
                states = _states(root / "paraffin.db")
                if states.get("failed"):
                    raise BenchError(f"paraffin 0.3.7: {states} in {root}")
                if set(states) <= {"completed"}:
                    break
                if worker.poll() is not None or time.perf_counter() - start > timeout_s:
                    raise BenchError(f"paraffin 0.3.7 worker stopped with {states} in {root}")
                time.sleep(0.05)
            secs = time.perf_counter() - start
        finally:
            _stop(worker)
            log.close()
        return secs, {"submit_s": submitted}

    return Alt(f"paraffin 0.3.7 worker --jobs {opts.jobs}", run, retries=3)
