"""The coordinator's process, seen from Snakemake's main process.

All of DVC's work for a run (the plan's status, the `paraffin` runner's
verdicts, hashing, commits, `dvc.lock` writes) happens in one child process
(`coordmain`), started when the Snakefile is parsed. Snakemake's scheduler is
one Python thread: DVC's Python beside it, in the same interpreter, made it
wait for the GIL (400 tiny stages: 5.5 s of scheduling against 4.3 s for a
plain Snakefile), and importing DVC for the plan held the first job back by
0.6 s. In a process of its own, DVC is imported on another core while
Snakemake parses the rules, and the scheduler never waits for it.

The plan, `onstart:` and `onsuccess:`/`onerror:` are requests to it, one JSON
line each way; jobs still speak to it through files. Its log records and its
lines for Snakemake's log come back on the same pipe and are logged here, so
they land where the thread's did. Its lifetime is this process's: it ends
when its stdin closes or (Linux) when the thread that started it ends, and it
ignores Ctrl-C and SIGTERM: Snakemake decides how a run ends, then asks it to
record what finished.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
from typing import Any

from ..errors import ParaffinError
from .report import log_line

# the child's interpreter sees the modules this one sees (a Snakefile may
# extend sys.path; `pipx` installs keep paraffin apart from the project)
_BOOT = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
    "from paraffin_export.runtime.coordmain import main; main()"
)


class CoordinatorRefused(ParaffinError):
    """What the coordinator process refused, as it said it (`failures.user_error`)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code

    def __str__(self) -> str:
        return self.message


class CoordinatorProcess:
    """The child process and the thread relaying what it says."""

    def __init__(self, root: str) -> None:
        main_thread = threading.current_thread() is threading.main_thread()
        argv = [json.dumps(sys.path), str(os.getpid()), str(int(main_thread))]
        argv += [str(logging.getLogger().getEffectiveLevel()), " ".join(sys.argv)]
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, *argv],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            encoding="utf-8",
        )
        self._replies: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._relay = threading.Thread(target=self._read, name="paraffin-relay", daemon=True)
        self._relay.start()

    def request(self, op: str, **args: Any) -> Any:
        """Send one request and wait for its answer; the child's refusal is
        raised as `CoordinatorRefused`, its own bug with its traceback."""
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it ended: said below
        reply = self._replies.get()
        if reply is None:
            code = self._proc.wait()
            raise RuntimeError(f"the paraffin coordinator process ended (exit code {code})")
        if "refused" in reply:
            raise CoordinatorRefused(*reply["refused"])
        if "bug" in reply:
            raise RuntimeError("the paraffin coordinator failed:\n" + reply["bug"])
        return reply["reply"]

    def close(self) -> None:
        """End the child (its stdin closes) without asking anything more."""
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        except OSError:
            pass

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            message = json.loads(raw)
            if "log" in message:
                name, level, text = message["log"]
                logging.getLogger(name).log(level, "%s", text)
            elif "line" in message:
                log_line(*message["line"])
            else:
                self._replies.put(message)
        self._replies.put(None)
