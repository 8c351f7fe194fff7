"""The up-to-date project of the no-op measurement (issue 18, goal 2).

N stages in N/100 folders `p0..`, each with a `dvc.yaml` of 100 stages (the
issue's 10 x 100 at 1,000 stages): inside a folder a 4-ary tree (stage i
reads stage (i-1)//4), and folder k's root reads folder k-1's root, so the
graph crosses files. `--quick`: 20 stages, 2 folders of 10.

It is made up to date without running N DVC processes and without a
`dvc commit` of N stages (minutes at 20,000): the outputs, their cache
objects, `.gitignore` entries and every `dvc.lock` are written directly,
as DVC 3 writes them; then DVC itself must report the project clean
(`dvc status`), or the measurement stops.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml
from common import make_project, sh

PER_FILE = 100


def layout(n: int) -> list[int]:
    """Stages per folder: 100 each (10 each for tiny smoke sizes)."""
    per = PER_FILE if n >= PER_FILE else max(1, n // 2)
    return [per] * (n // per) + ([n % per] if n % per else [])


def _deps(folder: int, i: int) -> list[str]:
    if i:
        return [f"out/s{(i - 1) // 4}"]
    return [f"../p{folder - 1}/out/s0"] if folder else []


def _cmd(folder: int, i: int) -> str:
    return f"mkdir -p out && echo {folder}.{i} > out/s{i}"


def dvc_yaml(folder: int, count: int) -> str:
    lines = ["stages:"]
    for i in range(count):
        lines += [f"  s{i}:", f"    cmd: {_cmd(folder, i)}", f"    outs: [out/s{i}]"]
        deps = _deps(folder, i)
        if deps:
            lines.append(f"    deps: [{deps[0]}]")
    return "\n".join(lines) + "\n"


def _content(folder: int, i: int) -> bytes:
    return f"{folder}.{i}\n".encode()


def _entry(path: str, data: bytes) -> dict[str, object]:
    return {"path": path, "hash": "md5", "md5": hashlib.md5(data).hexdigest(), "size": len(data)}


def _lock(folder: int, count: int) -> dict[str, object]:
    stages: dict[str, object] = {}
    for i in range(count):
        entry: dict[str, object] = {"cmd": _cmd(folder, i)}
        deps = _deps(folder, i)
        if deps:
            up = (folder - 1, 0) if deps[0].startswith("..") else (folder, (i - 1) // 4)
            entry["deps"] = [_entry(deps[0], _content(*up))]
        entry["outs"] = [_entry(f"out/s{i}", _content(folder, i))]
        stages[f"s{i}"] = entry
    return {"schema": "2.0", "stages": stages}


def _write_outputs(root: Path, folder: int, count: int) -> None:
    out = root / f"p{folder}" / "out"
    out.mkdir(parents=True, exist_ok=True)
    cache = root / ".dvc" / "cache" / "files" / "md5"
    for i in range(count):
        data = _content(folder, i)
        (out / f"s{i}").write_bytes(data)
        md5 = hashlib.md5(data).hexdigest()
        obj = cache / md5[:2] / md5[2:]
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            obj.write_bytes(data)
            os.chmod(obj, 0o444)
    (out / ".gitignore").write_text("".join(f"/s{i}\n" for i in range(count)))


def build(n: int) -> Path:
    """A fresh git+DVC project of ``n`` up-to-date stages (committed to git)."""
    counts = layout(n)
    files = {f"p{k}/dvc.yaml": dvc_yaml(k, c) for k, c in enumerate(counts)}
    root = make_project(f"noop{n}", "", files)
    (root / "dvc.yaml").unlink()
    for k, count in enumerate(counts):
        _write_outputs(root, k, count)
        text = yaml.safe_dump(_lock(k, count), sort_keys=False)
        (root / f"p{k}" / "dvc.lock").write_text(text)
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-qm", "up to date"], root)
    return root


def plain_snakefile(n: int) -> str:
    """The same rules by hand, no DVC: Snakemake's own no-op (every output
    exists, written in dependency order: nothing to do)."""
    counts = layout(n)
    outs = [f"p{k}/out/s{i}" for k, c in enumerate(counts) for i in range(c)]
    rules = ["rule all:\n    input: " + repr(outs) + "\n"]
    for k, count in enumerate(counts):
        for i in range(count):
            deps = [os.path.normpath(f"p{k}/{d}") for d in _deps(k, i)]
            dep = f"    input: {deps[0]!r}\n" if deps else ""
            out = f"p{k}/out/s{i}"
            shell = f"echo {k}.{i} > {{output}}"
            rules.append(f"rule p{k}_s{i}:\n{dep}    output: {out!r}\n    shell: {shell!r}\n")
    return "\n".join(rules)
