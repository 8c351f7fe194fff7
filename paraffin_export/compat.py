"""The DVC versions paraffin-export is tested with, checked before DVC is used.

The frontend and the runner use DVC internals (its loader, stage methods, rwlock,
lockfile serialisation), which any minor release may change. Outside the tested
range, or when one of those internals is missing, fail at once with one line
naming the range, never with a traceback or a wrong dvc.lock. Keep DVC_RANGE equal
to pyproject.toml's `dvc` requirement (tests/unit/test_compat.py checks it) and to
what CI tests: the lowest in .venv-lowest (tests/setup.sh), the newest in .venv.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from importlib.metadata import PackageNotFoundError, version

from .errors import ParaffinError

DVC_RANGE = ((3, 61), (4, 0))  # dvc>=3.61,<4
DVC_SPEC = "dvc>=3.61,<4"

# (module, attributes) the frontend and the runner reach into.
DVC_INTERNALS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dvc.repo", ("Repo", "lock_repo")),
    ("dvc.rwlock", ("rwlock", "_edit_rwlock", "RWLOCK_FILE", "RWLOCK_LOCK", "SCHEMA")),
    ("dvc.rwlock", ("RWLockFileCorruptedError", "RWLockFileFormatError")),
    ("dvc.lock", ("make_lock",)),
    ("dvc.stage", ("PipelineStage",)),
    ("dvc.stage.cache", ("RunCacheNotFoundError",)),
    ("dvc.stage.serialize", ("to_lockfile",)),
    ("dvc.utils.serialize", ("parse_yaml_for_update",)),
    ("dvc.utils.serialize._yaml", ("_dump", "_get_yaml")),
    ("dvc.utils.strictyaml", ("validate",)),
    ("dvc.dvcfile", ("Lockfile",)),
    ("scmrepo.git", ("Git",)),
    ("dvc.dependency", ("ParamsDependency",)),
    ("dvc.dependency.db", ("AbstractDependency",)),
    ("dvc.dependency.repo", ("RepoDependency",)),
)
SNAKEMAKE_RANGE = ((9, 18, 1), (10,))  # the `snakemake` extra: snakemake>=9.18.1,<10
SNAKEMAKE_SPEC = "snakemake>=9.18.1,<10"
STAGE_METHODS = (
    *("save", "commit", "changed", "remove_outs", "_check_missing_outputs"),
    *("_status_stage", "_status_always_changed", "_status_deps", "_status_outs"),
)


class UnsupportedDvcError(ParaffinError):
    """The installed DVC is outside the tested range or lacks an internal we use."""


def require_supported_snakemake() -> None:
    """For `paraffin run`: one line if the installed Snakemake is outside the
    tested range (not installed at all is the caller's message)."""
    try:
        installed = version("snakemake")
    except PackageNotFoundError:
        return
    low, high = SNAKEMAKE_RANGE
    if not low <= parse_version(installed) < high:
        raise UnsupportedDvcError(
            f"snakemake {installed} is installed; paraffin-export supports {SNAKEMAKE_SPEC}"
        )


def parse_version(text: str) -> tuple[int, ...]:
    """Leading numeric release parts: '3.61.0rc1' -> (3, 61, 0)."""
    import re

    match = re.match(r"\d+(?:\.\d+)*", text)
    return tuple(int(p) for p in match.group().split(".")) if match else ()


def _unsupported(what: str) -> UnsupportedDvcError:
    # one line: it is also what a Snakemake run prints before any job
    return UnsupportedDvcError(f"{what}; paraffin-export supports {DVC_SPEC}")


def missing_internals() -> list[str]:
    """`module.name` of every DVC internal we use that is not there."""
    missing = []
    for module_name, names in DVC_INTERNALS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            missing.append(module_name)
            continue
        missing += [f"{module_name}.{n}" for n in names if not hasattr(module, n)]
    if not missing:
        from dvc.repo import Repo
        from dvc.stage import PipelineStage

        if "_wait_for_lock" not in inspect.signature(Repo.__init__).parameters:
            missing.append("dvc.repo.Repo(_wait_for_lock=...)")
        missing += [f"Stage.{m}" for m in STAGE_METHODS if not hasattr(PipelineStage, m)]
        missing += _missing_methods()
    return missing


def _missing_methods() -> list[str]:
    """Methods `dvcreads` and `runtime.scmfast` wrap."""
    from dvc.dvcfile import Lockfile, ProjectFile
    from scmrepo.git import Git

    wrapped = [(Lockfile, "Lockfile", "_load_yaml"), (ProjectFile, "ProjectFile", "_load_yaml")]
    names = ("dulwich", "_get_gitignore", "ignore", "is_tracked")
    wrapped += [(Git, "Git", name) for name in names]
    return [f"{owner}.{name}" for cls, owner, name in wrapped if not hasattr(cls, name)]


@functools.cache
def require_supported_dvc() -> None:
    """Raise UnsupportedDvcError unless the installed DVC is one we support."""
    try:
        installed = version("dvc")
    except PackageNotFoundError:
        raise _unsupported("dvc is not installed") from None
    low, high = DVC_RANGE
    if not low <= parse_version(installed)[:2] < high:
        raise _unsupported(f"dvc {installed} is installed")
    missing = missing_internals()
    if missing:
        raise _unsupported(f"dvc {installed} lacks {', '.join(missing)}")
