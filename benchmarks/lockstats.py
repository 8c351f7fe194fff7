"""Where a run's time goes, from the lock shim's event log (lockshim/sitecustomize.py).

Per DVC process that ran a stage (`dvc repro --single-item`, two lock
sessions: before the command and after it):
  startup   interpreter start -> first wants the lock (imports, CLI, repo open)
  wait      wants -> gets the lock (queueing behind other processes; DVC's
            --wait-for-lock polls every 0.5 s)
  held      gets -> releases (status, hashing, dvc.lock read/rewrite)
  command   release before the command -> wants again after it
For the serial `dvc repro` (one process) the per-stage hold is its total hold
time divided by the stages. `busy` is the share of the run's wall time during
which some process held the lock (sessions never overlap: it is a flock).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

Event = tuple[float, str]


def read(log: Path) -> dict[tuple[int, int], tuple[str, list[Event]]]:
    """(pid, incarnation) -> (program, events). A run of 500 jobs reuses pids:
    a new `start` event of a known pid begins a new process."""
    procs: dict[tuple[int, int], tuple[str, list[Event]]] = {}
    current: dict[int, tuple[int, int]] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        parts = line.split(" ", 3)
        if len(parts) < 3:
            continue
        t, pid, what = float(parts[0]), int(parts[1]), parts[2]
        name = parts[3] if len(parts) > 3 else ""
        if what == "start" or pid not in current:
            current[pid] = (pid, current[pid][1] + 1 if pid in current else 0)
        procs.setdefault(current[pid], (name, []))[1].append((t, what))
    return procs


def sessions(events: list[Event]) -> list[tuple[float, float, float]]:
    """(want, got, rel) triples of one process."""
    out, want, got = [], None, None
    for t, what in events:
        if what == "want":
            want = t
        elif what == "got":
            got = t
        elif what == "rel" and want is not None and got is not None:
            out.append((want, got, t))
            want = got = None
    return out


def _med(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def summarize(log: Path, wall: float, stages: int) -> dict[str, float | int | None]:
    per: dict[str, list[float]] = defaultdict(list)
    total_hold = 0.0
    job_procs = 0
    serial_hold = None
    for name, events in read(log).values():
        sess = sessions(events)
        total_hold += sum(rel - got for _, got, rel in sess)
        start = next((t for t, w in events if w == "start"), None)
        if name != "dvc" or not sess:
            continue
        if len(sess) > 2:  # one process running many stages: serial dvc repro
            serial_hold = sum(rel - got for _, got, rel in sess) / max(stages, 1)
            continue
        job_procs += 1
        if start is not None:
            per["startup"].append(sess[0][0] - start)
        per["wait_before"].append(sess[0][1] - sess[0][0])
        per["held_before"].append(sess[0][2] - sess[0][1])
        if len(sess) == 2:
            per["command"].append(sess[1][0] - sess[0][2])
            per["wait_after"].append(sess[1][1] - sess[1][0])
            per["held_after"].append(sess[1][2] - sess[1][1])
    out: dict[str, float | int | None] = {f"{k}_median_s": _med(v) for k, v in per.items()}
    out["job_processes"] = job_procs
    if job_procs:  # a many-session process among jobs is not a serial repro
        serial_hold = None
    out["lock_busy_share"] = round(total_hold / wall, 3) if wall else None
    out["lock_held_total_s"] = round(total_hold, 3)
    if serial_hold is not None:
        out["serial_held_per_stage_s"] = round(serial_hold, 4)
    return out
