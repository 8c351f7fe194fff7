"""A real Airflow 3.3.2 for the tests: its own venv (made by tests/setup.sh),
one migrated SQLite AIRFLOW_HOME per test session, and tests/airflow_driver.py
run in that venv to parse DAG files or run `dag.test()`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, tool_env

AIRFLOW_PYTHON = Path(
    os.environ.get("PARAFFIN_AIRFLOW_PYTHON", REPO / ".venv-airflow" / "bin" / "python")
)
DRIVER = Path(__file__).with_name("airflow_driver.py")


@dataclass(frozen=True)
class Airflow:
    home: Path

    def env(self, dags: Path, **extra: str) -> dict[str, str]:
        # Only our own AIRFLOW__ settings: a developer's shell may carry others.
        base = {k: v for k, v in tool_env().items() if not k.startswith("AIRFLOW")}
        return {
            **base,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            **extra,
        }

    def call(self, args: list[str], dags: Path, timeout: float = 300, **env: str) -> Any:
        """Run the driver with ``-W error::DeprecationWarning``; its JSON result."""
        return self.call_logged(args, dags, timeout, **env)[0]

    def call_logged(
        self, args: list[str], dags: Path, timeout: float = 300, **env: str
    ) -> tuple[Any, str]:
        """`call`, and what the driver printed: `dag.test()` logs every task there."""
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result.json"
            cmd = [str(AIRFLOW_PYTHON), "-W", "error::DeprecationWarning", str(DRIVER)]
            proc = subprocess.run(
                [*cmd, args[0], str(out), str(dags), *args[1:]],
                env=self.env(dags, **env),
                text=True,
                capture_output=True,
                timeout=timeout,
                cwd=dags,
            )
            if proc.returncode != 0 or not out.is_file():
                raise AssertionError(
                    f"airflow driver {args} failed ({proc.returncode})\n"
                    f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"
                )
            result = json.loads(out.read_text(encoding="utf-8"))
            return result, proc.stdout + proc.stderr

    def inspect(self, dags: Path, **env: str) -> dict[str, Any]:
        return self.call(["inspect"], dags, **env)

    def run(self, dags: Path, jobs: dict[str, dict[str, Any] | None], **env: str) -> Any:
        """`dag.test()` for each DAG id (with its run conf), in one process."""
        return self.run_logged(dags, jobs, **env)[0]

    def run_logged(
        self, dags: Path, jobs: dict[str, dict[str, Any] | None], **env: str
    ) -> tuple[Any, str]:
        """`run`, and the runs' logs."""
        args = [item for dag_id, conf in jobs.items() for item in (dag_id, json.dumps(conf))]
        return self.call_logged(["run", *args], dags, **env)


def _missing() -> None:
    reason = f"no Airflow venv at {AIRFLOW_PYTHON}: run `bash tests/setup.sh`"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must test against a real Airflow)", pytrace=False)
    pytest.skip(reason)


_HOME: list[Path] = []


def session_airflow(factory: pytest.TempPathFactory) -> Airflow:
    """One migrated AIRFLOW_HOME per test session, shared by every test module."""
    if not AIRFLOW_PYTHON.is_file():
        _missing()
    if not _HOME:
        home = factory.mktemp("airflow_home")
        airflow = Airflow(home)
        proc = subprocess.run(
            [str(AIRFLOW_PYTHON.parent / "airflow"), "db", "migrate"],
            env=airflow.env(home / "dags"),
            text=True,
            capture_output=True,
            timeout=300,
        )
        if proc.returncode != 0:
            raise AssertionError(f"airflow db migrate failed\n{proc.stdout}\n{proc.stderr}")
        _HOME.append(home)
    return Airflow(_HOME[0])


def copy_tree(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest
