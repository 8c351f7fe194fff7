"""The generated Snakefile run by a minimal install: `pip install
paraffin-export snakemake`, the README's quick start, in a venv of its own.

The project venv (`tests/setup.sh`) also holds what the tests need, among it
snakemake-executor-plugin-slurm: Snakemake imports every installed executor
plugin when it starts, and that one imports pandas, about 0.3-0.6 s more per
`snakemake` start. Same DVC and Snakemake versions as the project venv.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from common import HERE, REPO
from harness import Alt, Opts, snakemake_alt

VENV = HERE / "_work" / "venv-minimal"
LABEL = "minimal install"


def pins() -> list[str]:
    return [f"snakemake=={version('snakemake')}", f"dvc=={version('dvc')}"]


def ensure_venv() -> Path:
    """(Re)create the venv when it is missing or its versions drifted."""
    python = VENV / "bin" / "python"
    want = " ".join(pins())
    probe = (
        "from importlib.metadata import version as v;"
        "print(f\"snakemake=={v('snakemake')} dvc=={v('dvc')}\")"
    )
    have = (
        python.exists()
        and subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True
        ).stdout.strip()
    )
    if have == want:
        return VENV / "bin"
    print(f"  creating {VENV} (paraffin-export from {REPO}, {want})", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-e", str(REPO), *pins()], check=True)
    return VENV / "bin"


def minimal_alt(opts: Opts) -> Alt:
    return snakemake_alt("paraffin", opts, ensure_venv(), LABEL)
