"""mermaid's own parser under Node (tests/node/check.mjs), one process per batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"


def require_parser() -> None:
    """Fail in CI, skip locally, when Node or the npm packages are missing."""
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (NODE_DIR / "node_modules" / "mermaid").is_dir():
        missing = "run tests/setup.sh (npm ci in tests/node)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"mermaid parser unavailable in CI: {missing}")
        pytest.skip(missing)


def parse(files: list[Path]) -> dict[str, dict[str, object]]:
    """file -> {"ok": bool, "error": str, "labels": {node id: decoded label}}."""
    require_parser()
    proc = subprocess.run(
        ["node", str(NODE_DIR / "check.mjs"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = {}
    for line in proc.stdout.splitlines():
        entry = json.loads(line)
        results[entry["file"]] = entry
    assert len(results) == len(files), proc.stderr
    return results


class MermaidServer:
    """One long-lived `node check.mjs --serve`: a parse costs milliseconds."""

    def __init__(self) -> None:
        require_parser()
        self.proc = subprocess.Popen(
            ["node", str(NODE_DIR / "check.mjs"), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def check(self, text: str) -> dict[str, object]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(text) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "mermaid parser process died"
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
