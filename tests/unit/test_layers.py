"""The package's three wings, read from its imports (docs/architecture.md): the
compile side never imports the runtime, the runtime never imports the compile
side, both stand on the ground floor, and no module imports another's private
names."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "paraffin_export"

# `compat` (supported versions), `drift` (a graph changed since its export),
# `ircache`/`statuscache` (what the last load and status saw): both wings use them
GROUND = {"", "ir", "errors", "naming", "paths", "atomic", "dvc_adapter", "graph", "staleness"}
GROUND |= {"compat", "drift", "ircache", "statuscache", "lockyaml", "dvcreads"}
COMPILE = {"cli", "cli_options", "quick", "export", "run", "stale", "config", "selection", "render"}
COMPILE_PACKAGES = ("frontend", "backends")
# `snakemake_plan` is the name generated Snakefiles import the runtime's plan by
RUNTIME_PACKAGES = ("runtime", "snakemake_plan")
ALLOWED = {"ground": {"ground"}, "compile": {"ground", "compile"}, "runtime": {"ground", "runtime"}}

Sources = dict[str, tuple[str, bool]]  # module -> (source, is a package's __init__)


def wing(module: str) -> str:
    top = module.split(".")[0]
    if module in GROUND:
        return "ground"
    if module in COMPILE or top in COMPILE_PACKAGES:
        return "compile"
    if top in RUNTIME_PACKAGES:
        return "runtime"
    raise AssertionError(f"paraffin_export.{module} is in no wing: add it to {__file__}")


def package_sources() -> Sources:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        init = parts[-1] == "__init__"
        if init:
            parts.pop()
        found[".".join(parts)] = (path.read_text(encoding="utf-8"), init)
    return found


def imports(module: str, source: str, init: bool, known: Sources) -> list[tuple[str, list[str]]]:
    """(imported module, names) for every import of the package, also inside
    functions; relative ones resolved, `from . import x` read as module x."""
    package = [p for p in (module.split(".") if init else module.split(".")[:-1]) if p]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                (a.name.removeprefix("paraffin_export").strip("."), [])
                for a in node.names
                if a.name.split(".")[0] == "paraffin_export"
            ]
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:
                target = ".".join(
                    [*package[: len(package) - node.level + 1], *filter(None, [name])]
                )
            elif name.split(".")[0] == "paraffin_export":
                target = name.removeprefix("paraffin_export").strip(".")
            else:
                continue
            names = [a.name for a in node.names]
            subs = [f"{target}.{n}".strip(".") for n in names]
            if all(s in known for s in subs):
                found += [(s, []) for s in subs]
            else:
                found.append((target, names))
    return found


def crossings(sources: Sources) -> list[str]:
    bad = []
    for module, (source, init) in sources.items():
        for target, _ in imports(module, source, init, sources):
            if wing(target) not in ALLOWED[wing(module)]:
                bad.append(f"{module}: {wing(module)} imports {wing(target)} ({target})")
    return bad


def private_imports(sources: Sources) -> list[str]:
    bad = []
    for module, (source, init) in sources.items():
        for target, names in imports(module, source, init, sources):
            hidden = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if hidden and target != module:
                bad.append(f"{module}: {target}.{', '.join(hidden)}")
    return bad


def test_every_import_stays_in_its_wing_or_goes_down() -> None:
    assert crossings(package_sources()) == []


def test_no_module_imports_private_names_of_another() -> None:
    assert private_imports(package_sources()) == []


def test_the_contract_sees_crossings_and_private_imports() -> None:
    """What the package had before the wings were drawn fails both checks."""
    sources = package_sources()
    sources["backends.snakemake"] = ("from ..runtime.plan import LOG_DIR, marker\n", False)
    sources["runtime.session"] = ("def f():\n    from ..frontend.load import _quiet_dvc\n", False)
    sources["runtime.plan"] = ("from paraffin_export import cli\n", False)
    assert crossings(sources) == [
        "backends.snakemake: compile imports runtime (runtime.plan)",
        "runtime.plan: runtime imports compile (cli)",
        "runtime.session: runtime imports compile (frontend.load)",
    ]
    assert private_imports(sources) == ["runtime.session: frontend.load._quiet_dvc"]
