"""What a generated Snakefile runs: which stages get a job, decided by DVC, once.

Snakemake judges freshness by file modification times and its own metadata;
`dvc repro` judges it by hashes of deps, params and outs, the command and
`dvc.lock`. Only DVC's answer matches `dvc repro` (an edited `cmd`, a
`git checkout` of an older `dvc.lock`, a stage reproduced by hand: times say
nothing about those). So the Snakefile's rules declare marker files under
`.paraffin/done/` as their outputs (never DVC's outputs: Snakemake deletes
declared outputs before a job runs) and `Plan` decides which markers are due:

- On the first DAG evaluation in the main Snakemake process, one DVC repo is
  opened and every stage of this Snakefile gets one `Stage.status()`, the call
  `dvc status` makes, under one repo lock.
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
  `paraffin` runner the coordinator in this process (`coordinator`), with the
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
(`--lint`, `--list-rules`) never ask DVC at all: the plan is computed lazily.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import drift
from ..errors import ProjectError
from ..naming import log_names
from ..paths import STARTED, ensure_dirs, job_log, marker, run_dir
from ..staleness import StageStatus, changed_itself, stale_rules
from . import failures, runlock
from .report import RunReport, announce_plan, log_line, quiet_snakemake
from .session import Session, open_session

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
        self._session: Session | None = None
        self._coordinator: Any = None
        self._run_lock: int | None = None  # `runlock`, held until the process exits
        self._finished = False
        self._refused: failures.RefusedWrites | None = None
        if workflow.is_main_process:
            quiet_snakemake()
            # Snakemake's own failed writes (a full disk): restated last
            self._refused = failures.watch_snakemake()
            atexit.register(self._at_exit)

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
        from .coordinator import Coordinator

        stale = self.stale()
        if self.runner != "paraffin" or self._session is None:
            return
        session = self._session
        rule_of = {a: rule for rule, a in self.address.items()}
        # in `dvc repro` order: the order the coordinator writes dvc.lock entries in
        stages = {
            rule_of[a]: (a, session.stages[a], session.states[a].changed)
            for a in session.order
            if rule_of[a] in stale
        }
        names = log_names(self.address.values())
        report = RunReport(
            self.root,
            {rule: self.address[rule] for rule in stages},
            {rule: job_log(names[self.address[rule]]) for rule in stages},
        )
        order = [session.stages[a] for a in session.order]
        self._coordinator = Coordinator(
            Path(self.root),
            session.repo,
            stages,
            self.upstream,
            report,
            order=order,
            force=self.force,
        )
        # DVC, the repo and Snakemake's DAG live until exit: frozen, the
        # collections during the run stop walking them, and the young ones run
        # less often (with 400 tiny stages, garbage collection took 6.2 s of
        # the process's 12 s of CPU; 1.7 s now)
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        self._coordinator.start()

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
        coordinator = self._coordinator
        if coordinator is None:
            return []
        errors: list[str] = coordinator.stop()
        runlock.forget_ended(Path(self.root))  # this run's jobs ended
        # Everything alive now lives until exit: without this, the interpreter's
        # last collections walk the whole heap (Snakemake, DVC) for 0.1-0.3 s.
        gc.freeze()
        started = os.path.join(run_dir(self.root), STARTED)
        unfinished = set(os.listdir(started)) if os.path.isdir(started) else set()
        for text in coordinator.report.failures(unfinished - coordinator.settled):
            log_line(text, error=True)
        counts = coordinator.counts
        if coordinator.stages:  # a no-op run said "DVC reports 0 of N" already
            log_line(coordinator.report.summary(counts["recorded"], counts["batches"]))
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
        known = None if self.force else self._known_clean()
        if known is not None:
            self._check_structure(list(known[0]), known[1])
            announce_plan(0, len(self.address), 0)
            return frozenset()
        from .. import statuscache

        before = statuscache.observe(Path(self.root))
        keep = self.runner == "paraffin"
        replay = keep and not getattr(self._workflow, "dryrun", False)
        # before the journal replay and the marker deletions below
        self._run_lock = runlock.take(Path(self.root))
        if replay:
            runlock.stop_orphans(Path(self.root))
        session = open_session(Path(self.root), self.address.values(), keep=keep, replay=replay)
        self._session = session if keep else None
        states, edges = session.states, session.edges
        changed = {a: st.changed for a, st in states.items()}
        statuscache.record_changed(Path(self.root), changed, before)
        self._check_structure(session.addresses, edges)
        stale = (
            frozenset(self.address)
            if self.force
            else stale_rules(self.address, self.upstream, states)
        )
        ensure_dirs(self.root)
        for rule in stale:
            Path(self.root, marker(rule)).unlink(missing_ok=True)
        changed = sum(1 for r in stale if changed_itself(states[self.address[r]]))
        dry_run = getattr(self._workflow, "dryrun", False)
        dry = [a for r, a in self.address.items() if r in stale] if dry_run else []
        announce_plan(len(stale), len(self.address), changed, self.force, dry)
        return stale

    def _known_clean(self) -> tuple[dict[str, StageStatus], set[tuple[str, str]]] | None:
        """Every stage up to date by the status cache, and no crash journal to
        replay: the states and edges DVC would give, without DVC."""
        from .. import statuscache
        from ..paths import JOURNAL

        journal = os.path.join(run_dir(self.root), JOURNAL)
        if os.path.isdir(journal) and os.listdir(journal):
            return None
        return statuscache.known_clean(Path(self.root), self.address.values())

    def _check_structure(self, addresses: Sequence[str], edges: set[tuple[str, str]]) -> None:
        """Refuse to run a graph that is no longer the project's (`drift`)."""
        scope, command = self.export
        old = list(self.address.values())
        rule_of = {a: r for r, a in self.address.items()}
        then = {
            (self.address[up], self.address[r]) for r, ups in self.upstream.items() for up in ups
        }
        now = drift.selection(addresses, edges, rule_of, scope)
        drift.check("this Snakefile", old, then, now, edges, command + REEXPORT_RUN)


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
