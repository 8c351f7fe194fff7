"""`.gitignore` lines in the order `dvc repro` writes them.

DVC adds `/<name>` to the `.gitignore` beside each cached output the first
time it saves the output (`Output.save` -> `Output.ignore` ->
`scmrepo`'s `Git._add_entry_to_gitignore`): `dvc repro` saves stages one by
one in its plan order, so lines appear in that order. The `paraffin` runner
saves stages as their jobs finish, so DVC writes the same lines in completion
order. `Order` remembers each `.gitignore` as it was when the run started and,
after each batch, rewrites the lines the run added into plan order, appended
exactly as DVC appends them. A file someone else changed meanwhile is left as
it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..atomic import write_atomic


class Order:
    def __init__(self, repo: Any, stages: Iterable[Any]) -> None:
        """``stages``: DVC stages in `dvc repro` order."""
        self.entries: dict[str, list[str]] = {}  # .gitignore -> DVC's lines, in plan order
        self.start: dict[str, str] = {}  # .gitignore -> its text when the run started
        locate = getattr(repo.scm, "_get_gitignore", None)
        if locate is None:  # no git: DVC writes no .gitignore either
            return
        from pathspec.patterns import GitWildMatchPattern

        for stage in stages:
            for out in stage.outs:
                if out.protocol == "local" and out.use_scm_ignore:
                    entry, path = locate(out.fspath)
                    line = GitWildMatchPattern.escape(entry)
                    self.entries.setdefault(path, []).append(line)
        self.start = {path: _read(path) for path in self.entries}

    def settle(self) -> None:
        """Put the lines added since the start in plan order."""
        for path, before in self.start.items():
            now = _read(path)
            if now == before or not now.startswith(before):
                continue
            added = [line for line in now[len(before) :].splitlines() if line]
            known = [line for line in self.entries[path] if line in added]
            text = before
            for line in known + [line for line in added if line not in known]:
                text = append_entry(text, line)
            if text != now:
                write_atomic(Path(path), text, durable=True)


def append_entry(text: str, entry: str) -> str:
    """``scmrepo``'s `_add_entry_to_gitignore` on a file's text."""
    prefix = "" if not text or text.endswith("\n") else "\n"
    new = f"{prefix}{entry}\n"
    if new in set(text.splitlines(keepends=True)):
        return text
    return text + new


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
