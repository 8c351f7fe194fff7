"""The one line a failed run ends with (runtime/failures.py): pure functions."""

from __future__ import annotations

import errno
import logging

import pytest

from paraffin_export.errors import ProjectError
from paraffin_export.runtime import failures

METADATA = (
    "WorkflowError:\nError recording metadata for finished job ([Errno 28] No space left on"
    " device). Please ensure write permissions for the directory /p/.snakemake"
)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (METADATA, "cannot write /p/.snakemake: No space left on device"),
        (
            "[Errno 13] Permission denied: '/p/dvc.lock'",
            "cannot write /p/dvc.lock: Permission denied",
        ),
        ("[Errno 2] No such file or directory: '/p/x'", None),  # not a refused write
        ("[Errno 28] No space left on device", None),  # no file named
        ("At least one job did not complete successfully.", None),
    ],
)
def test_refused_line(text: str, line: str | None) -> None:
    assert failures.refused_line(text) == line


def test_refused_writes_hears_errors_only_once() -> None:
    heard = failures.RefusedWrites()
    for level in (logging.ERROR, logging.ERROR, logging.INFO):
        record = logging.LogRecord("snakemake", level, "", 0, METADATA, None, None)
        assert heard.filter(record)  # never hides Snakemake's own message
    assert heard.lines == ["cannot write /p/.snakemake: No space left on device"]
    ours = "paraffin: stage 'a' failed\n  | [Errno 13] Permission denied: '/p/x'"
    heard.filter(logging.LogRecord("snakemake", logging.ERROR, "", 0, ours, None, None))
    assert len(heard.lines) == 1  # a stage's log tail is not Snakemake's write


def test_user_error() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/p/dvc.lock")
    assert failures.user_error(full) == ("cannot write /p/dvc.lock: No space left on device", 1)
    stale = ProjectError("this Snakefile is stale", hint="export it again")
    assert failures.user_error(stale) == (str(stale), 2)
    assert failures.user_error(KeyError("a bug of ours")) is None
