"""A live single-node SLURM cluster for the `engine` tests (Debian's slurm-wlm + munge).

Daemons run in the foreground as children of the test process (no systemd), with
state, spool, pid and log files under one temp dir. ``/etc/slurm/slurm.conf`` is a
symlink to our config because Snakemake's SLURM job-step plugin strips
``SLURM_CONF`` from the job environment. A file lock serialises test sessions on
one machine: the ports and that symlink are machine-wide.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
LOCK_FILE = Path(tempfile.gettempdir()) / "paraffin-slurm-tests.lock"
PARTITION = "debug"
OTHER_PARTITION = "batch"  # for checking that `queue` labels reach sbatch
DAEMONS = ("munged", "slurmctld", "slurmd")

CONF = """\
# Written by paraffin-export's test suite; removed when the tests end.
ClusterName=paraffin
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={base}/munge/munge.socket
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
SlurmctldDebug=verbose
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={base}/jobcomp.log
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1,sched_min_interval=100000
DependencyParameters=kill_invalid_depend
ReturnToService=2
MinJobAge=600
KillWait=2
InactiveLimit=0
SlurmdTimeout=60
MessageTimeout=10
{node} State=UNKNOWN
PartitionName={partition} Nodes={nodename} Default=YES MaxTime=INFINITE State=UP
PartitionName={other} Nodes={nodename} Default=NO MaxTime=INFINITE State=UP
"""


class SlurmUnavailable(Exception):
    """The binaries are missing or the cluster did not come up."""


@dataclass
class SlurmCluster:
    base: Path
    conf: Path
    partition: str = PARTITION
    startup_seconds: float = 0.0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        from conftest import tool_env

        return tool_env(SLURM_CONF=str(self.conf), **extra)

    def jobcomp(self) -> list[dict[str, str]]:
        """Completed-job records (name, state, exit code...) from jobcomp/filetxt."""
        path = self.base / "jobcomp.log"
        if not path.exists():
            return []
        records = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            records.append(_parse_jobcomp(line))
        return records

    def queue(self) -> list[str]:
        """Ids of jobs slurmctld still has pending or running."""
        proc = subprocess.run(
            ["squeue", "-h", "-o", "%i"], env=self.env(), capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise SlurmUnavailable(f"squeue failed: {proc.stderr}")
        return proc.stdout.split()

    def wait_idle(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while self.queue():
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs still queued after {timeout} s: {self.queue()}")
            time.sleep(0.3)

    def ctld_log(self) -> str:
        return (self.base / "slurmctld.log").read_text(encoding="utf-8", errors="replace")


_JOBCOMP_KEYS = (
    "JobId UserId GroupId Name JobState Partition TimeLimit StartTime EndTime NodeList NodeCnt "
    "ProcCnt WorkDir ReservationName Tres Account QOS WcKey Cluster SubmitTime EligibleTime "
    "DerivedExitCode ExitCode"
).split()
# Values may hold spaces (job names are DVC addresses), so split on the known keys.
_JOBCOMP_SPLIT = re.compile(r"(?:^| )(" + "|".join(_JOBCOMP_KEYS) + r")=")


def _parse_jobcomp(line: str) -> dict[str, str]:
    parts = _JOBCOMP_SPLIT.split(line.rstrip())
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def missing_binaries() -> list[str]:
    return [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue") if not _which(b)]


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def _node_line() -> tuple[str, str]:
    out = subprocess.run(
        [_which("slurmd") or "slurmd", "-C"], capture_output=True, text=True, check=True
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("NodeName="))
    return line.strip(), line.split()[0].split("=", 1)[1]


def _write_conf(base: Path) -> Path:
    node, nodename = _node_line()
    host = socket.gethostname().split(".")[0]
    conf = base / "slurm.conf"
    conf.write_text(
        CONF.format(
            host=host,
            base=base,
            node=node,
            nodename=nodename,
            partition=PARTITION,
            other=OTHER_PARTITION,
        ),
        encoding="utf-8",
    )
    return conf


def _link_system_conf(conf: Path) -> None:
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    if SYSTEM_CONF.is_symlink() or not SYSTEM_CONF.exists():
        SYSTEM_CONF.unlink(missing_ok=True)
        SYSTEM_CONF.symlink_to(conf)
        return
    raise SlurmUnavailable(f"{SYSTEM_CONF} is a real file; refusing to replace it")


def _start(cluster: SlurmCluster, name: str, argv: list[str], **kwargs: object) -> None:
    log = open(cluster.base / f"{name}.out", "wb")  # noqa: SIM115 - lives as long as the daemon
    cluster.procs[name] = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
    )


def _wait(what: str, check, timeout: float, cluster: SlurmCluster) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in cluster.procs.items():
            if proc.poll() is not None:
                raise SlurmUnavailable(f"{name} exited ({proc.returncode}) {_tail(cluster, name)}")
        if check():
            return
        time.sleep(0.2)
    raise SlurmUnavailable(f"timed out waiting for {what}")


def _tail(cluster: SlurmCluster, name: str) -> str:
    texts = []
    for suffix in (".out", ".log"):
        path = cluster.base / f"{name}{suffix}"
        if path.exists():
            texts.append(path.read_text(errors="replace")[-2000:])
    return "\n".join(texts)


def _node_state(cluster: SlurmCluster) -> str:
    proc = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=cluster.env()
    )
    # one line per partition the node is in
    states = set(proc.stdout.split()) if proc.returncode == 0 else set()
    return states.pop() if len(states) == 1 else ""


def reap_stale_clusters() -> None:
    """Stop daemons an earlier, killed test session left behind, by the pids they
    recorded (only if that pid still runs the same daemon), and drop their dirs.
    Call with LOCK_FILE held: then no live session owns any of these dirs."""
    for base in Path(tempfile.gettempdir()).glob("paraffin-slurm-*"):
        if not base.is_dir() or base.is_symlink():
            continue
        for name, pidfile in (
            ("slurmd", base / "slurmd.pid"),
            ("slurmctld", base / "slurmctld.pid"),
            ("munged", base / "munge" / "munged.pid"),
        ):
            _stop_recorded(name, pidfile)
        shutil.rmtree(base, ignore_errors=True)


def _stop_recorded(name: str, pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return
    if comm != name:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)


def start_cluster() -> SlurmCluster:
    began = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="paraffin-slurm-"))
    base.chmod(0o755)  # munged runs as the munge user and must reach its socket dir
    for sub in ("state", "spool"):
        (base / sub).mkdir()
    munge_dir = base / "munge"
    munge_dir.mkdir(mode=0o755)
    shutil.chown(munge_dir, "munge", "munge")
    cluster = SlurmCluster(base=base, conf=_write_conf(base))
    _link_system_conf(cluster.conf)
    try:
        _start(
            cluster, "munged", _munged_argv(munge_dir), user="munge", group="munge", extra_groups=[]
        )
        _wait("munged", lambda: (munge_dir / "munge.socket").exists(), 20, cluster)
        sbin = {b: _which(b) or b for b in ("slurmctld", "slurmd")}
        _start(cluster, "slurmctld", [sbin["slurmctld"], "-D", "-i", "-f", str(cluster.conf)])
        _start(cluster, "slurmd", [sbin["slurmd"], "-D", "-f", str(cluster.conf)])
        _wait("an idle node", lambda: _node_state(cluster) == "idle", 90, cluster)
    except BaseException:
        stop_cluster(cluster)
        raise
    cluster.startup_seconds = time.monotonic() - began
    return cluster


def _munged_argv(munge_dir: Path) -> list[str]:
    return [
        _which("munged") or "munged",
        "-F",
        f"--socket={munge_dir}/munge.socket",
        f"--pid-file={munge_dir}/munged.pid",
        f"--log-file={munge_dir}/munged.log",
        f"--seed-file={munge_dir}/munged.seed",
    ]


def stop_cluster(cluster: SlurmCluster) -> None:
    """Cancel what is left (a failed test may leave jobs queued), so no job step
    outlives slurmd; then stop each daemon we started, by its pid."""
    ctld = cluster.procs.get("slurmctld")
    if ctld is not None and ctld.poll() is None:
        subprocess.run(["scancel", "--full", "--user=root"], env=cluster.env(), check=False)
        try:
            cluster.wait_idle(timeout=30)
        except (AssertionError, SlurmUnavailable):
            pass
    for name in reversed(DAEMONS):
        proc = cluster.procs.get(name)
        if proc is None or proc.poll() is not None:
            continue
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if SYSTEM_CONF.is_symlink() and os.readlink(SYSTEM_CONF) == str(cluster.conf):
        SYSTEM_CONF.unlink()
    if not os.environ.get("PARAFFIN_KEEP_SLURM_DIR"):
        shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """The live cluster; skipped where SLURM is not installed, except in CI,
    where a missing SLURM must fail the run rather than hide it."""
    missing = missing_binaries()
    if missing:
        message = f"SLURM not installed (missing: {', '.join(missing)}); run tests/setup.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reap_stale_clusters()
        try:
            cluster = start_cluster()
        except SlurmUnavailable as exc:
            pytest.fail(f"SLURM did not start: {exc}")
        print(f"\nslurm cluster up in {cluster.startup_seconds:.1f} s ({cluster.base})")
        try:
            yield cluster
        finally:
            stop_cluster(cluster)
