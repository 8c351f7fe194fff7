"""The journal: stages whose command succeeded but which are not yet in `dvc.lock`.

A job whose command succeeded writes ``.paraffin/run/journal/<rule>.json``
(its address and commands). The coordinator stamps each new entry with the
fingerprint of the stage's deps and outs as soon as it sees it, and again
once DVC's commit has relinked the outputs: a line ``RULE TOKEN FINGERPRINT``
appended to the run's one ``stamps`` file, fsynced per batch (a file per
stamp made and freed an inode per stage, which on a filesystem without a
journal makes every later file creation scan past it). The entry is deleted
once the stage is in `dvc.lock`, the stamps once no entry is left. An entry a
crash leaves behind is replayed by the next run (`replay`): the stage is
recorded without running again when its command and its last stamp (of the
same run's token) still match the workspace, and runs again otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Container, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..atomic import append_durable
from ..paths import JOURNAL, run_dir
from . import dvc_steps, lockfile

log = logging.getLogger(__name__)
STAMPS = "stamps"  # in the journal folder; not a rule's entry (no .json)
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def fingerprint(paths: Iterable[str]) -> str:
    """Size and modification time of every file under ``paths``: equal
    fingerprints mean nothing was written there in between (what DVC's own
    state database trusts to skip rehashing). Missing paths count too."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        for name, info in _walk(path):
            digest.update(f"{name}\0{info}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _walk(path: str) -> list[tuple[str, str]]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return [(path, "missing")]
    if not stat.S_ISDIR(st.st_mode):
        return [(path, f"{st.st_size} {st.st_mtime_ns}")]
    found = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            try:
                info = os.stat(full)
            except FileNotFoundError:
                continue
            found.append((full, f"{info.st_size} {info.st_mtime_ns}"))
    return found or [(path, "empty dir")]


def stage_fingerprint(stage: Any) -> str:
    """The fingerprint of a DVC stage's local deps and outs."""
    deps, outs = dvc_steps.lock_paths(stage)
    return fingerprint(deps + outs)


def read_entry(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The entry, or None when it does not exist (any more) or is not whole.

    A job writes its entry straight into place (`job.sh` starts no `mv`), so
    a reader can meet it empty or half written. No proper prefix of a JSON
    object's text parses (its closing brace comes last), so an entry that
    parses is whole. Half written is "not there yet" while the run lives (a
    later poll reads it whole) and "not done" at replay (the stage runs
    again, if DVC still finds it changed)."""
    try:
        with open(path, encoding="utf-8") as handle:
            entry = json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:  # half written: JSONDecodeError, or a cut UTF-8 character
        return None
    return entry if isinstance(entry, dict) else None


class Journal:
    """The journal folder of one run, as the coordinator of run ``token`` sees it."""

    def __init__(self, root: str | os.PathLike[str], token: str = "") -> None:
        self.folder = Path(run_dir(root), JOURNAL)
        self.token = token
        self._stamped: dict[str, str] = {}  # rule -> the fingerprint it was stamped with

    def entry(self, rule: str) -> Path:
        return self.folder / f"{rule}.json"

    def new(self, known: Container[str], seen: Container[str]) -> list[str]:
        """Rules with an entry, of this run (``known``), not ``seen`` before."""
        names = sorted(os.listdir(self.folder))
        rules = [n[: -len(".json")] for n in names if n.endswith(".json")]
        return [r for r in rules if r in known and r not in seen]

    def stamp(self, stages: Mapping[str, Any], *, again: bool = False) -> None:
        """Stamp each stage (rule -> DVC stage) with its fingerprint, durably:
        from then on a crash replays it. Without ``again`` only stages not
        stamped yet; with it (after DVC's commit relinked the outputs) only
        stamped ones, when the fingerprint changed (a commit that kept the
        files keeps it)."""
        lines = []
        for rule, stage in stages.items():
            if again != (rule in self._stamped):
                continue
            found = stage_fingerprint(stage)
            if self._stamped.get(rule) != found:
                self._stamped[rule] = found
                lines.append(f"{rule} {self.token} {found}\n")
        if lines:
            append_durable(self.folder / STAMPS, "".join(lines))

    def claim(self, stages: Mapping[str, Any]) -> list[str]:
        """The rules (of rule -> DVC stage) whose entry is this run's job
        finishing (its verdict's token came back), stamped. An entry of
        another run (a crashed run's job, still alive) is dropped: only this
        run's job of the stage may finish it."""
        mine = {}
        for rule, stage in stages.items():
            path = self.entry(rule)
            entry = read_entry(path)
            if entry is None:
                continue
            if entry.get("token") != self.token:
                _drop_foreign(path, self.token)
                continue
            mine[rule] = stage
        self.stamp(mine)
        return list(mine)

    def remove(self, rules: Iterable[str]) -> None:
        for rule in rules:
            self.entry(rule).unlink(missing_ok=True)
            self._stamped.pop(rule, None)

    def finish(self) -> None:
        """The stamps go once no entry is left (a clean journal is an empty
        folder: `Plan` then trusts the status cache); else the next run replays."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:  # the run folder went with its stamps
            return
        if not any(name.endswith(".json") for name in names):
            (self.folder / STAMPS).unlink(missing_ok=True)


def read_stamps(folder: Path) -> dict[str, tuple[str, str]]:
    """rule -> (token, fingerprint) of its last whole stamp line in ``folder``."""
    try:
        text = (folder / STAMPS).read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return {}
    found = {}
    for line in text.split("\n")[:-1]:  # after the last newline: cut, or nothing
        words = line.split(" ")
        if len(words) == 3 and _FINGERPRINT.fullmatch(words[2]):
            found[words[0]] = (words[1], words[2])
    return found


def _drop_foreign(path: Path, token: str) -> None:
    """Set aside, then delete, unless this run's job wrote its own entry in
    between (then it goes back). The job writes into the file itself: if it
    opened (and emptied) the foreign entry's file before the rename, what is
    set aside is its entry, maybe half written (it goes on writing there);
    opened after, it made a new file and the foreign entry, read whole just
    before, is what is set aside. So only a whole entry of another run goes."""
    aside = path.with_name(f".{path.stem}.{os.urandom(4).hex()}.foreign")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    entry = read_entry(aside)
    if entry is None or entry.get("token") == token:
        os.rename(aside, path)
        return
    aside.unlink()
    log.warning("paraffin: dropped a journal entry of %s left by another run", path.stem)


def matches(stage: Any, entry: Mapping[str, Any], stamp: str | None) -> bool:
    """An entry left by a crash still describes the workspace: same command,
    and no file under the stage's deps and outs written since its ``stamp``."""
    return entry.get("cmd") == dvc_steps.commands(stage) and stamp == stage_fingerprint(stage)


def _stamp_of(
    rule: str, entry: Mapping[str, Any], stamps: Mapping[str, tuple[str, str]]
) -> str | None:
    """The entry's last stamp by its own run; an entry of an older paraffin
    carries it inside."""
    token, found = stamps.get(rule, (None, None))
    if token is not None and token == entry.get("token"):
        return found
    return entry.get("fingerprint")


def replay(root: Path, stages: Mapping[str, Any]) -> list[str]:
    """Record the stages a crashed run finished but did not record, when the
    workspace still shows what they left (`matches`); the rest are dropped,
    and DVC's status decides whether they run again (returned: their
    addresses, for `session` to say so). Runs under the repo lock.
    ``stages``: address -> DVC stage, in `dvc repro` order."""
    folder = Journal(root).folder
    if not folder.is_dir():
        return []
    dropped, files, found = [], sorted(folder.glob("*.json")), set()
    stamps = read_stamps(folder)
    for path in files:
        entry = read_entry(path)
        if entry is None:  # half written as the run ended: not done
            continue
        address = entry.get("address")
        stage = stages.get(address)  # type: ignore[arg-type]
        if stage is None or not matches(stage, entry, _stamp_of(path.stem, entry, stamps)):
            dropped.append(str(address))
            continue
        found.add(address)
    recorded = []
    for address, stage in stages.items():  # in `dvc repro` order, as DVC would record them
        if address not in found:
            continue
        try:
            dvc_steps.after_command(stage)
        except Exception as exc:  # noqa: BLE001 - then DVC's status reruns it
            log.warning("paraffin: cannot record %s: %s", address, exc)
            dropped.append(str(address))
            continue
        recorded.append(stage)
    if recorded:
        lockfile.dump_stages(recorded, lockfile.ranks(stages.values()))
        log.warning("paraffin: recorded %d stages an interrupted run finished", len(recorded))
    for path in [*files, folder / STAMPS]:
        path.unlink(missing_ok=True)
    return dropped
