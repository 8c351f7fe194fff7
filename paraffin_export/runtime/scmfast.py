"""DVC's two git questions per saved output, answered without re-reading git's files.

`Output.save` asks git, for every output, whether it is tracked
(`scmrepo`'s dulwich `is_tracked`: it parses the whole `.git/index` and scans
it) and then has `Git.ignore` add its `/name` line to the `.gitignore` beside it
unless git ignores the path already. With 400 tiny stages that was a fifth of
the coordinator's time, which Snakemake's scheduler then waits for (issue 18,
goal 3); on a project with thousands of tracked files each index read costs
more. In the coordinator's repo only (`install`):

- `is_tracked` reads the index once per version of the file (its inode, size
  and mtime) into a set and a sorted list, and answers as dulwich does: the
  path itself, or any path below it, is in the index;
- `ignore` returns at once when the `.gitignore` beside the output already
  holds exactly the line DVC would add and no negation (`!`) line that could
  un-ignore it: DVC then finds the path ignored and writes nothing (a
  rerun). Otherwise it asks dulwich's ignore rules, read once for the run
  (DVC rebuilds them at every repo lock), and appends the line with DVC's own
  `_add_entry_to_gitignore` (a first run). A `.gitignore` with a `!` line
  goes to DVC's own `ignore`.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any


def install(scm: Any) -> None:
    """Answer ``scm``'s (a `scmrepo` Git of DVC's repo) two questions fast."""
    dulwich = getattr(scm, "dulwich", None)
    if dulwich is None or "is_tracked" in vars(scm):
        return  # no git (NoSCM), or installed already
    scm.is_tracked = _Tracked(scm, dulwich.repo.index_path(), scm.is_tracked)
    scm.ignore = _Ignore(scm, scm.ignore)


def _stat_key(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class _Tracked:
    def __init__(self, scm: Any, index: str, original: Any) -> None:
        self.scm, self.index, self.original = scm, index, original
        self.key: tuple[int, int, int] | None = None
        self.exact: frozenset[bytes] = frozenset()
        self.ordered: list[bytes] = []

    def __call__(self, path: str) -> bool:
        key = _stat_key(self.index)
        if key is None:
            return bool(self.original(path))  # no index: DVC's own answer
        if key != self.key:
            entries = list(self.scm.dulwich.repo.open_index())
            self.key, self.exact, self.ordered = key, frozenset(entries), sorted(entries)
        rel = os.path.relpath(path, self.scm.root_dir).replace(os.sep, "/").encode()
        if rel in self.exact:
            return True
        below = rel + b"/"
        i = bisect_left(self.ordered, below)
        return i < len(self.ordered) and self.ordered[i].startswith(below)


class _Ignore:
    def __init__(self, scm: Any, original: Any) -> None:
        self.scm, self.original = scm, original
        self.files: dict[str, tuple[tuple[int, int, int] | None, frozenset[str], bool]] = {}
        self.manager: Any = None  # dulwich's ignore rules, read once for the run

    def __call__(self, path: str) -> str | None:
        from pathspec.patterns import GitWildMatchPattern

        entry, gitignore = self.scm._get_gitignore(path)
        line = GitWildMatchPattern.escape(entry)
        lines, negated = self._lines(gitignore)
        if negated:
            return self.original(path)  # a `!` line: DVC's own answer
        if line in lines or self._ignored(path):
            return None  # DVC: is_ignored, nothing written
        self.scm._add_entry_to_gitignore(entry, gitignore)  # what DVC does next
        self.files[gitignore] = (_stat_key(gitignore), lines | {line}, False)
        return str(gitignore)

    def _ignored(self, path: str) -> bool:
        """`DulwichBackend.is_ignored`, with rules read once: DVC's manager
        is rebuilt, re-reading every `.gitignore`, each time DVC's repo lock
        is taken. The lines a run adds are anchored, escaped names of other
        outputs (DVC refuses overlapping ones), which never decide this one."""
        if self.manager is None:
            from dulwich.ignore import IgnoreFilterManager

            self.manager = IgnoreFilterManager.from_repo(self.scm.dulwich.repo)
        rel = os.path.relpath(path, self.scm.root_dir)
        if str(path)[-1] == os.sep:
            rel += os.sep
        return bool(self.manager.is_ignored(rel))

    def _lines(self, gitignore: str) -> tuple[frozenset[str], bool]:
        key = _stat_key(gitignore)
        known = self.files.get(gitignore)
        if known is None or known[0] != key:
            try:
                # as DVC compares lines: "\r" kept, so a CRLF line goes to DVC
                with open(gitignore, encoding="utf-8", newline="") as handle:
                    lines = frozenset(handle.read().split("\n"))
            except (OSError, UnicodeDecodeError):
                lines = frozenset()
            known = (key, lines, any(line.startswith("!") for line in lines))
            self.files[gitignore] = known
        return known[1], known[2]
