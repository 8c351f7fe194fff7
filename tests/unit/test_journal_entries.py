"""Journal entries as `job.sh` writes them: straight into place (one `printf`,
no temp file renamed over it), so the coordinator and the next run's replay
can meet an entry empty or half written. Half written is "not there yet"
while the run lives and "not done" at replay; a foreign entry set aside while
this run's job writes into it goes back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from paraffin_export.atomic import append_durable
from paraffin_export.paths import JOURNAL, run_dir
from paraffin_export.runtime.journal import (
    STAMPS,
    Journal,
    _drop_foreign,
    _stamp_of,
    read_entry,
    read_stamps,
    replay,
)

OURS = json.dumps({"address": "s", "cmd": ["echo s > s.txt"], "token": "this-run"}) + "\n"
FOREIGN = json.dumps({"address": "s", "cmd": ["echo s > s.txt"], "token": "an-earlier-run"})


def _journal(root: Path) -> Path:
    folder = Path(run_dir(root), JOURNAL)
    folder.mkdir(parents=True)
    return folder


def test_a_half_written_entry_is_not_there_yet(tmp_path: Path) -> None:
    entry = _journal(tmp_path) / "s.json"
    journal = Journal(tmp_path, "this-run")
    for cut in (0, 1, len(OURS) // 2, len(OURS) - 2):
        entry.write_text(OURS[:cut])
        assert read_entry(entry) is None
        assert journal.new({"s"}, set()) == ["s"]
        # not claimed, not stamped, not dropped as another run's: read again later
        assert journal.claim({"s": None}) == []
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
    assert Journal(tmp_path, "this-run").claim({"s": None}) == []
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


FP = "ab" * 32


def test_stamps_are_whole_lines_and_the_last_wins(tmp_path: Path) -> None:
    """The coordinator appends `RULE TOKEN FINGERPRINT` lines; a kill leaves
    the last one cut. Only whole, well-formed lines count, a later line of a
    rule replaces an earlier one, and the next append never continues a cut
    line (it starts with a newline)."""
    folder = _journal(tmp_path)
    stamps = folder / STAMPS
    append_durable(stamps, f"s this-run {'0' * 64}\nt this-run {FP}\n")
    append_durable(stamps, f"s this-run {FP}\n")
    whole = stamps.read_text()
    assert read_stamps(folder) == {"s": ("this-run", FP), "t": ("this-run", FP)}
    for cut in range(1, len(f"u this-run {FP}")):  # u's line cut anywhere: no stamp for u
        stamps.write_text(whole + f"\nu this-run {FP}"[:cut])
        assert "u" not in read_stamps(folder), cut
        append_durable(stamps, f"v this-run {FP}\n")
        assert read_stamps(folder)["v"] == ("this-run", FP), cut
    stamps.write_text(whole + f"u this-run {FP[:-1]}\n" + "s this-run nothex\n" + "t a b c\n")
    assert read_stamps(folder) == {"s": ("this-run", FP), "t": ("this-run", FP)}


def test_an_entry_takes_only_its_own_runs_stamp(tmp_path: Path) -> None:
    stamps = {"s": ("this-run", FP)}
    assert _stamp_of("s", json.loads(OURS), stamps) == FP
    assert _stamp_of("s", json.loads(FOREIGN), stamps) is None  # another run's stamp
    assert _stamp_of("t", json.loads(OURS), stamps) is None  # never stamped
    older = {**json.loads(FOREIGN), "fingerprint": FP}  # an older paraffin's entry
    assert _stamp_of("s", older, stamps) == FP


def test_the_stamps_go_with_the_last_entry(tmp_path: Path) -> None:
    """A clean journal is an empty folder (the no-op fast path asks for
    that); stamps of entries still there stay for the replay."""
    folder = _journal(tmp_path)
    journal = Journal(tmp_path, "this-run")
    (folder / "s.json").write_text(OURS)
    append_durable(folder / STAMPS, f"s this-run {FP}\n")
    journal.finish()
    assert sorted(p.name for p in folder.iterdir()) == ["s.json", STAMPS]
    journal.remove(["s"])
    journal.finish()
    assert list(folder.iterdir()) == []
    assert replay(tmp_path, {}) == []  # nothing left: nothing made
    append_durable(folder / STAMPS, f"s this-run {FP}\n")
    assert replay(tmp_path, {}) == []
    assert list(folder.iterdir()) == []  # a replay clears the stamps too
