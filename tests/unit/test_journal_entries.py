"""Journal entries as `job.sh` writes them: straight into place (one `printf`,
no temp file renamed over it), so the coordinator and the next run's replay
can meet an entry empty or half written. Half written is "not there yet"
while the run lives and "not done" at replay; a foreign entry set aside while
this run's job writes into it goes back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from paraffin_export.paths import JOURNAL, run_dir
from paraffin_export.runtime.journal import Journal, _drop_foreign, read_entry, replay

OURS = json.dumps({"address": "s", "cmd": ["echo s > s.txt"], "token": "this-run"}) + "\n"
FOREIGN = json.dumps({"address": "s", "cmd": ["echo s > s.txt"], "token": "an-earlier-run"})


def _journal(root: Path) -> Path:
    folder = Path(run_dir(root), JOURNAL)
    folder.mkdir(parents=True)
    return folder


def test_a_half_written_entry_is_not_there_yet(tmp_path: Path) -> None:
    entry = _journal(tmp_path) / "s.json"
    journal = Journal(tmp_path)
    for cut in (0, 1, len(OURS) // 2, len(OURS) - 2):
        entry.write_text(OURS[:cut])
        assert read_entry(entry) is None
        assert journal.new({"s"}, set()) == ["s"]
        # not claimed, not stamped, not dropped as another run's: read again later
        assert journal.claim({"s": None}, "this-run") == []
        assert entry.read_text() == OURS[:cut]
    entry.write_text(OURS[:-1])  # whole but for the newline
    assert read_entry(entry) == json.loads(OURS)


def test_a_half_written_entry_is_not_replayed_as_done(tmp_path: Path) -> None:
    folder = _journal(tmp_path)
    (folder / "s.json").write_text(OURS[: len(OURS) // 2])
    (folder / "t.json").write_text("")
    assert replay(tmp_path, {"s": None, "t": None}) == []
    assert not (tmp_path / "dvc.lock").exists()
    assert list(folder.iterdir()) == []


def test_this_runs_entry_written_over_a_foreign_one_is_kept(tmp_path: Path) -> None:
    """The job opened (and emptied) the foreign entry's file just before the
    coordinator set it aside to drop it: what it writes must come back."""
    entry = _journal(tmp_path) / "s.json"
    entry.write_text(FOREIGN)  # whole, and no job of this run writing: dropped
    assert Journal(tmp_path).claim({"s": None}, "this-run") == []
    assert not entry.exists()
    entry.write_text(FOREIGN)
    fd = os.open(entry, os.O_WRONLY | os.O_TRUNC)  # the job's `printf ... >entry`
    try:
        os.write(fd, OURS[:10].encode())
        _drop_foreign(entry, "this-run")
        os.write(fd, OURS[10:].encode())
    finally:
        os.close(fd)
    assert entry.read_text() == OURS
    assert [p.name for p in entry.parent.iterdir()] == ["s.json"]
