"""Print `name==version` for the lowest version of every runtime dependency that
pyproject.toml declares (its `>=` bound), plus the `snakemake` extra: what
tests/setup.sh installs into .venv-lowest, so CI tests the bottom of each range
as .venv tests the top (docs/compatibility.md)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# DVC < 3.66 imports a name pathspec 1.0 removed (dvc/ignore.py: _DIR_MARK) and
# does not cap it: anyone on those DVC releases has pathspec < 1, or no working DVC.
PATHSPEC_FIXED_IN_DVC = (3, 66)


def lowest_pins(pyproject: Path = PYPROJECT) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["snakemake"]
    pins = []
    for requirement in requirements:
        match = re.match(r"([A-Za-z0-9_.-]+)[^;]*?>=\s*([0-9][^,;\s]*)", requirement)
        if not match:
            raise SystemExit(f"{pyproject}: no lower bound in {requirement!r}")
        name, low = match.groups()
        pins.append(f"{name}=={low}")
        if name == "dvc" and tuple(map(int, low.split(".")[:2])) < PATHSPEC_FIXED_IN_DVC:
            pins.append("pathspec<1")
    return pins


if __name__ == "__main__":
    sys.stdout.write("\n".join(lowest_pins()) + "\n")
