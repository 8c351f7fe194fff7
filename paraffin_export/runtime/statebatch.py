"""DVC's state database written once per batch of stages, not once per file.

DVC's `State.set_link` opens its links database, writes one row in a
transaction of its own and closes the connection again, for every output its
commit links; `State.save` commits one transaction per hash. With 400 tiny
stages that was half of the coordinator's time (issue 18, goal 3). Inside
`one_transaction` (the coordinator's batch, under DVC's repo lock):

- DVC's hashes go into its hashes database inside one transaction;
- the link records DVC's commit makes wait in memory and go into its links
  database in one transaction at the end: the rows DVC itself writes
  (path relative to the repo -> (inode, mtime)).

A crash before the end loses the batch's rows, never a part of one (SQLite
rolls the transaction back): a missing hash only makes DVC hash the file
again, a missing link record only makes `dvc checkout` keep a file it might
have cleaned up. Neither can make a stage look up to date.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def one_transaction(state: Any) -> Iterator[None]:
    """``state``: the repo's `dvc_data` State (a `StateNoop` passes through)."""
    links, hashes = getattr(state, "links", None), getattr(state, "hashes", None)
    if links is None or hashes is None or "set_link" in vars(state):
        yield  # no state database, or a batch already open
        return
    from dvc_objects.fs.utils import relpath

    pending: dict[str, tuple[int, Any]] = {}

    def set_link(path: str, inode: int, mtime: Any) -> None:
        pending[relpath(path, state.root_dir)] = (inode, mtime)

    state.set_link = set_link  # this object only, for this batch
    try:
        with hashes.transact():
            yield
    finally:
        del state.set_link
    if pending:
        with links as ref, ref.transact():  # DVC's own pattern: closed after
            for key, value in pending.items():
                ref[key] = value
