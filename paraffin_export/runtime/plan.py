"""What a generated Snakefile runs: which stages get a job, decided by DVC, once.

Snakemake judges freshness by file modification times and its own metadata;
`dvc repro` judges it by hashes of deps, params and outs, the command and
`dvc.lock`. Only DVC's answer matches `dvc repro` (an edited `cmd`, a
`git checkout` of an older `dvc.lock`, a stage reproduced by hand: times say
nothing about those). So the Snakefile's rules declare marker files under
`.paraffin/done/` as their outputs (never DVC's outputs: Snakemake deletes
declared outputs before a job runs) and `Plan` decides which markers are due:

- On the first DAG evaluation in the main Snakemake process, the status
  cache answers (`statuscache`: nothing changed, no DVC at all), or the
  coordinator process (`coordproc`, started as the Snakefile is read) opens
  one DVC repo and every stage of this Snakefile gets one `Stage.status()`,
  the call `dvc status` makes, under one repo lock.
- A stage is stale when DVC reports it changed (or cannot tell), when it is
  ``always_changed``, or when a stage upstream of it is stale (an upstream
  rerun can change its deps). Staleness does not flow through a frozen stage:
  the rule of `paraffin stale` (`staleness.stale_addresses`). A frozen stage whose
  own status is not clean (its outputs changed, or it has no lock entry yet)
  still gets a job: `dvc repro` never runs its command, but verifies and
  records its outputs in `dvc.lock`, and so must we.
- Markers of stale stages are deleted, `rule all` asks for exactly those, and
  each rule's input is the markers of its stale upstream stages. Up-to-date
  stages are not in the DAG at all: a no-op run starts no process.
- During the run, DVC looks again before each stage's command: with the
  `paraffin` runner the coordinator process (`coordinator`), with the
  `dvc` runner each job's `dvc repro`; an unchanged stage (an upstream rerun
  may have produced identical outputs) does not run.

Building the DAG (a dry run too) deletes the markers of stale stages: a
marker only ever says "this stage's last job succeeded", and DVC is asked
again on every run anyway. Snakemake's `--forcerun`/`--forceall` reach only
the jobs in the DAG and never make DVC rerun an up-to-date stage (the rules
do not pass `--force`): that is `dvc repro -f`.

Cluster jobs re-read the Snakefile in a fresh Snakemake process; there
``workflow.is_main_process`` is false and the plan is empty, so no job asks DVC
for the whole project's status again. Commands that never build a DAG
(`--lint`, `--list-rules`) never ask DVC anything: the plan is computed
lazily (the coordinator process only imports DVC, and ends with Snakemake).
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import drift
from ..errors import ProjectError
from ..paths import marker, run_dir
from ..staleness import StageStatus
from . import failures, runlock
from .coordproc import CoordinatorProcess
from .report import announce_plan, quiet_snakemake

_SCHEDULER = "snakemake.scheduling.job_scheduler"
FORCE = "force"  # the `--config` key of `dvc repro -f`
REEXPORT_COMMAND = "paraffin export snakemake -o <this Snakefile>"
REEXPORT_RUN = " (or use `paraffin run`, which exports every time)"

log = logging.getLogger(__name__)


class Plan:
    """Built at the top of a generated Snakefile; see the module docstring."""

    def __init__(
        self,
        workflow: Any,
        *,
        root: str,
        stages: Mapping[str, tuple[str, Sequence[str]]],
        runner: str = "dvc",
        export: tuple[str, str] | None = None,
    ) -> None:
        """``root``: the DVC root relative to the Snakefile; ``stages``: rule ->
        (stage address, upstream rules); ``runner``: "paraffin" or "dvc" (the
        Snakefile names it only when it is not "dvc", the first runner)."""
        self._workflow = workflow
        self.root = os.path.normpath(os.path.join(workflow.basedir, root))
        self.address = {rule: address for rule, (address, _) in stages.items()}
        self.upstream = {rule: tuple(up) for rule, (_, up) in stages.items()}
        self.runner = runner
        # `snakemake --config force=true`: `dvc repro -f` for every stage of this Snakefile
        self.force = _truthy(workflow.config.get(FORCE, False))
        # (scope, command) of the export that wrote the Snakefile (`drift`);
        # Snakefiles exported before it existed check only their own stages
        self.export = export or ("single", REEXPORT_COMMAND)
        self._stale: frozenset[str] | None = None
        self._known: tuple[dict[str, StageStatus], set[tuple[str, str]]] | None = None
        self._child: CoordinatorProcess | None = None  # DVC's process (`coordproc`)
        self._coordinating = False  # the child's coordinator runs
        self._run_lock: int | None = None  # `runlock`, held until the process exits
        self._finished = False
        self._refused: failures.RefusedWrites | None = None
        if workflow.is_main_process:
            quiet_snakemake()
            # Snakemake's own failed writes (a full disk): restated last
            self._refused = failures.watch_snakemake()
            atexit.register(self._at_exit)
            # a no-op run needs no DVC; any other run imports it now, beside the parse
            self._known = None if self.force else self._known_clean()
            if self._known is None:
                self._child = CoordinatorProcess(self.root)

    @property
    def job_script(self) -> str:
        """`job.sh`, the `paraffin` runner's job (in the installed package)."""
        from .verdict_script import SCRIPT

        return os.fspath(SCRIPT)

    def targets(self, wildcards: Any = None) -> list[str]:
        """Input of `rule all`: the marker of every stale stage."""
        stale = self.stale()
        return [marker(rule) for rule in self.address if rule in stale]

    def inputs(self, rule: str) -> Callable[[Any], list[str]]:
        """Input function of ``rule``: markers of its stale upstream stages."""

        def stale_upstream(wildcards: Any) -> list[str]:
            stale = self.stale()
            return [marker(up) for up in self.upstream[rule] if up in stale]

        return stale_upstream

    def stale(self) -> frozenset[str]:
        """Stale rule names; empty outside the main Snakemake process."""
        if self._stale is None:
            if self._workflow.is_main_process:
                try:
                    self._stale = self._ask_dvc()
                except Exception as exc:
                    # not Snakemake's InputFunctionException and its traceback
                    failures.exit_cleanly(exc)
                    raise
            else:
                self._stale = frozenset()
        return self._stale

    def start(self) -> None:
        """`onstart:` of the `paraffin` runner: the coordinator starts deciding."""
        self.stale()
        if self.runner != "paraffin" or self._child is None:
            return
        self._child.request("start")
        self._coordinating = True
        # Snakemake's DAG lives until exit: frozen, the collections during the
        # run stop walking it, and the young ones run less often
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)

    def finish(self) -> None:
        """`onsuccess:`/`onerror:`: record what finished; fail the run on errors."""
        _cancel_reevaluation_timers()
        self._finished = True
        last = self._stop_coordinator() or self._refused_writes()
        if last:
            raise SystemExit("paraffin: " + "\n".join(last))

    def _at_exit(self) -> None:
        """A write Snakemake itself could not make (its metadata, on a full
        disk) ends Snakemake without `onerror:`, its last line blaming
        permissions: record what finished and say what failed, last."""
        if not self._finished and self._refused_writes():
            self._finished = True
            failures.say("\n".join(self._stop_coordinator() or self._refused_writes()))

    def _refused_writes(self) -> list[str]:
        return self._refused.lines[:1] if self._refused is not None else []

    def _stop_coordinator(self) -> list[str]:
        """Stop the coordinator, report failed stages and the summary; its errors."""
        if self._child is None or not self._coordinating:
            return []
        self._coordinating = False
        errors: list[str] = self._child.request("stop")
        # Everything alive now lives until exit: without this, the interpreter's
        # last collections walk the whole heap (Snakemake's DAG) for 0.1-0.3 s.
        gc.freeze()
        return errors

    def _refuse_bad_invocation(self) -> None:
        if os.path.realpath(os.getcwd()) != os.path.realpath(self.root):
            # `--directory` overrides the Snakefile's `workdir:`; markers, logs
            # and stage addresses are all relative to the DVC root
            raise ProjectError(
                f"this Snakefile must run in the DVC root {self.root}, not in {os.getcwd()}",
                hint="drop --directory/-d: the Snakefile changes to the DVC root itself",
            )
        if self.force and self.runner != "paraffin":
            raise ProjectError(
                f"--config {FORCE}=... needs the paraffin runner; this Snakefile runs `dvc repro`",
                hint="export without `--runner dvc`, or run `dvc repro -f` itself",
            )

    def _ask_dvc(self) -> frozenset[str]:
        self._refuse_bad_invocation()
        if self._known is not None:
            check_structure(self.address, self.upstream, self.export, *self._known)
            announce_plan(0, len(self.address), 0)
            return frozenset()
        assert self._child is not None
        # before the journal replay and the marker deletions (the child's)
        self._run_lock = runlock.take(Path(self.root))
        stale = self._child.request(
            "plan",
            root=self.root,
            address=self.address,
            upstream=self.upstream,
            runner=self.runner,
            force=self.force,
            dryrun=bool(getattr(self._workflow, "dryrun", False)),
            export=self.export,
        )
        if self.runner != "paraffin":  # `dvc repro` jobs: nothing more to ask
            self._child.close()
            self._child = None
        return frozenset(stale)

    def _known_clean(self) -> tuple[dict[str, StageStatus], set[tuple[str, str]]] | None:
        """Every stage up to date by the status cache, and no crash journal to
        replay: the states and edges DVC would give, without DVC."""
        from .. import statuscache
        from ..paths import JOURNAL

        journal = os.path.join(run_dir(self.root), JOURNAL)
        if os.path.isdir(journal) and os.listdir(journal):
            return None
        return statuscache.known_clean(Path(self.root), self.address.values())


def check_structure(
    address: Mapping[str, str],
    upstream: Mapping[str, Sequence[str]],
    export: Sequence[str],
    addresses: Iterable[str],
    edges: set[tuple[str, str]],
) -> None:
    """Refuse to run a graph that is no longer the project's (`drift`):
    ``address``/``upstream`` are the Snakefile's, ``addresses``/``edges`` the
    project's now; ``export``: (scope, command) of the export that wrote it."""
    scope, command = export
    rule_of = {a: r for r, a in address.items()}
    then = {(address[up], address[r]) for r, ups in upstream.items() for up in ups}
    now = drift.selection(list(addresses), edges, rule_of, scope)
    drift.check("this Snakefile", list(address.values()), then, now, edges, command + REEXPORT_RUN)


def _truthy(value: object) -> bool:
    """A `--config` value: Snakemake parses `force=true` / `force=1` as YAML."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _cancel_reevaluation_timers() -> None:
    """After every scheduling round Snakemake's job rate limiter arms a
    `threading.Timer` (1 s by default) to wake the scheduler again. Those
    threads are not daemons: once the run is over they only hold the
    interpreter's exit for up to a second, on every run. At `onsuccess:` /
    `onerror:` no round can follow, so the pending ones are cancelled; only
    timers armed by Snakemake's scheduler module are touched."""
    for thread in threading.enumerate():
        if not isinstance(thread, threading.Timer):
            continue
        if getattr(thread.function, "__module__", "") == _SCHEDULER:  # type: ignore[attr-defined]
            thread.cancel()
