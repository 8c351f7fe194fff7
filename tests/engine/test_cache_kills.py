"""Kill tests of issue 18's fast paths: a SIGKILL while a cache entry is
written never leaves a wrong "up to date". After each kill `paraffin stale`
agrees with `dvc status`, the next run finishes the work, and the end state
equals a `dvc repro` twin's.

Each kill lands where `atomic`'s test hook ($PARAFFIN_TEST_WRITE_PAUSE) holds
the writer: half-way through the temp file of the chosen write, until the
test kills it. Covered: the status cache (`.paraffin/cache/status.json`), the
IR cache (`ir.json`), the coordinator's batched journal stamps and its
`dvc.lock` entries updated in place (a rerun's later batches)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import yaml
from conftest import BIN, run, tool_env
from snakemake_support import SNAKEFILE, Pair, dvc_status, locks

from paraffin_export import stale, statuscache
from paraffin_export.atomic import PAUSE_ENV
from paraffin_export.frontend import load_pipeline

N = 6
# $GATE set: each w stage waits for $GATE/<its name> (the order of its record)
HOLD = 'until [ -z "$GATE" ] || [ -e "$GATE/w{i}" ]; do sleep 0.05; done'
DVC_YAML = "\n".join(
    ["stages:"]
    + [
        line
        for i in range(N)
        for line in (
            f"  w{i}:",
            f"    cmd: {HOLD.format(i=i)} && echo {i} > w{i}.txt",
            f"    outs: [w{i}.txt]",
        )
    ]
    + ["  join:", "    cmd: cat w*.txt > join.txt", "    outs: [join.txt]", "    deps:"]
    + [f"      - w{i}.txt" for i in range(N)]
)
FILES = {"dvc.yaml": DVC_YAML + "\n", ".gitignore": ".snakemake/\n"}


def stale_set(root: Path) -> set[str]:
    """What `paraffin stale` reports, asked twice (the second may come from
    the status cache the first recorded)."""
    found = [{s.address for s in stale.with_status(root).stages if s.changed} for _ in range(2)]
    assert found[0] == found[1], found
    return found[0]


def agrees_with_dvc(root: Path) -> None:
    assert stale_set(root) == set(dvc_status(root))


def held(cmd: list[str], cwd: Path, gate: Path, pattern: str, nth: int = 1) -> subprocess.Popen:
    """Start ``cmd`` (own process group) with the write hook armed: the
    ``nth`` write matching ``pattern`` holds half-way (`reached`)."""
    gate.touch()
    env = tool_env(**{PAUSE_ENV: f"{pattern}|{gate}|{nth}", "GATE": str(gate.parent / "open")})
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def reached(proc: subprocess.Popen, gate: Path) -> None:
    """Returns once the held write is half-way, its process held there."""
    deadline = time.monotonic() + 300
    while not Path(f"{gate}.reached").exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the chosen write never came"
        time.sleep(0.05)


def kill(proc: subprocess.Popen, root: Path | None = None) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    if root is not None:  # as Snakemake tells users to after a kill
        run([str(BIN / "snakemake"), "-s", str(root / SNAKEFILE), "--unlock"], root)


def snakemake_cmd(root: Path) -> list[str]:
    return [str(BIN / "snakemake"), "-s", str(root / SNAKEFILE), "-j", "8"]


def stale_cmd(root: Path) -> list[str]:
    return [str(BIN / "paraffin"), "stale", "-C", str(root)]


def open_gates(tmp_path: Path, names: list[str]) -> None:
    folder = tmp_path / "open"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).touch()


def finish_like_dvc_repro(pair: Pair) -> None:
    """The next plain run finishes; the end state is the `dvc repro` twin's."""
    final = pair.snakemake("final")
    assert final.returncode == 0, final.stdout + final.stderr
    assert dvc_status(pair.sm) == {}
    agrees_with_dvc(pair.sm)
    pair.repro("twin")
    assert locks(pair.sm) == locks(pair.twin)
    assert (pair.sm / "dvc.lock").read_bytes() == (pair.twin / "dvc.lock").read_bytes()


def test_a_kill_while_journal_entries_are_stamped(tmp_path: Path) -> None:
    """The coordinator stamps the journal entries of finished jobs in one
    append to the run's stamps file (`atomic.append_durable`); killed
    half-way through one: the cut line stamps nothing, and the next run
    replays or reruns each stage."""
    pair = Pair.create(tmp_path, FILES)
    open_gates(tmp_path, [f"w{i}" for i in range(N)])
    proc = held(snakemake_cmd(pair.sm), pair.sm, tmp_path / "gate", "*/journal/stamps")
    reached(proc, tmp_path / "gate")
    kill(proc, pair.sm)
    agrees_with_dvc(pair.sm)
    finish_like_dvc_repro(pair)


def test_a_kill_while_a_rerun_updates_dvc_lock_in_place(tmp_path: Path) -> None:
    """A rerun after every cmd changed: the first `dvc.lock` write dumps the
    file, later ones splice in only the changed entries (`lockfile`). Killed
    half-way through the second: DVC reads the first, complete."""
    pair = Pair.create(tmp_path, FILES)
    first = pair.snakemake("first")
    assert first.returncode == 0, first.stdout + first.stderr
    pair.both("sed -i 's/> w\\([0-9]\\)/v2 > w\\1/' dvc.yaml")
    pair.export()
    open_gates(tmp_path, ["w0"])  # alone: the first dvc.lock write has w0 only
    proc = held(snakemake_cmd(pair.sm), pair.sm, tmp_path / "gate", "*/dvc.lock", nth=2)
    lock = pair.sm / "dvc.lock"
    deadline = time.monotonic() + 300
    while "v2 > w0" not in lock.read_text():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "w0 was never recorded"
        time.sleep(0.05)
    open_gates(tmp_path, ["w1"])  # the second write: spliced in place
    reached(proc, tmp_path / "gate")
    kill(proc, pair.sm)
    # the first write's file, whole: w0 recorded anew, the others as before
    entries = yaml.safe_load((pair.sm / "dvc.lock").read_text())["stages"]
    assert list(entries) == [f"w{i}" for i in range(N)] + ["join"]
    anew = [name for name, entry in entries.items() if " v2 > " in entry["cmd"]]
    assert anew == ["w0"]
    agrees_with_dvc(pair.sm)
    open_gates(tmp_path, [f"w{i}" for i in range(N)])
    finish_like_dvc_repro(pair)


def test_a_kill_while_the_status_cache_is_written(tmp_path: Path) -> None:
    """`paraffin stale` recorded the project up to date; an output changes;
    the next `stale` asks DVC and is killed while it records: the old record
    is left and must not vouch for the changed stage."""
    pair = Pair.create(tmp_path, FILES)
    assert pair.snakemake("first").returncode == 0
    assert stale_set(pair.sm) == stale_set(pair.sm) == set()  # the IR, then the status
    assert statuscache.lookup(pair.sm) is not None  # recorded
    pair.both("echo other > w3.txt")
    proc = held(stale_cmd(pair.sm), pair.sm, tmp_path / "gate", "*/status.json")
    reached(proc, tmp_path / "gate")
    kill(proc)
    assert (pair.sm / statuscache.FILE).exists()  # the old record, complete
    assert statuscache.lookup(pair.sm) is None
    agrees_with_dvc(pair.sm)
    finish_like_dvc_repro(pair)


def test_a_kill_while_the_ir_cache_is_written(tmp_path: Path) -> None:
    """A stage is added to dvc.yaml; the `stale` that loads it through DVC is
    killed while it stores the new IR: the old IR is left and must not be
    served to the next export (the new stage would be missing from it)."""
    pair = Pair.create(tmp_path, FILES)
    assert pair.snakemake("first").returncode == 0
    assert stale_set(pair.sm) == stale_set(pair.sm) == set()  # the IR, then the status
    extra = (
        "  extra:\\n    cmd: cp join.txt extra.txt\\n    deps: [join.txt]\\n    outs: [extra.txt]"
    )
    pair.both(f"printf '{extra}\\n' >> dvc.yaml")
    proc = held(stale_cmd(pair.sm), pair.sm, tmp_path / "gate", "*/ir.json")
    reached(proc, tmp_path / "gate")
    kill(proc)
    # an export reads the IR cache (`stale` reloads through DVC, and stores)
    assert "extra" in {s.address for s in load_pipeline(pair.sm).stages}
    pair.export()
    agrees_with_dvc(pair.sm)
    finish_like_dvc_repro(pair)
