"""The mermaid backend: its output passes mermaid's own parser and shows real names."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

from conftest import GOLDEN, paraffin, run
from mermaid_parser import parse

from paraffin_export.backends.base import ExportOptions
from paraffin_export.backends.mermaid import MermaidBackend, label, levels
from paraffin_export.ir import Pipeline, Stage


def _stage(address: str, group: str | None = None, dvcfile: str = "dvc.yaml") -> Stage:
    return Stage(
        address=address, name=address, dvcfile=dvcfile, wdir=".", cmd=("true",), group=group
    )


def test_label_escapes_what_mermaid_would_read() -> None:
    assert label('a"b') == '"a#34;b"'
    assert label("x`y`") == '"x#96;y#96;"'
    assert label("plain@0") == '"plain@0"'


def test_levels_are_longest_paths_per_component() -> None:
    stages = tuple(_stage(a) for a in ["a", "b", "d", "c", "x"])
    pipe = Pipeline(stages, edges=(("a", "b"), ("b", "c"), ("a", "c"), ("d", "c")))
    got = [[[s.address for s in lvl] for lvl in comp] for comp in levels(pipe)]
    assert got == [[["a", "d"], ["b"], ["c"]], [["x"]]]


def test_golden_mermaid_parses_and_labels_are_addresses() -> None:
    files = sorted(GOLDEN.glob("*/expected/mermaid*/pipeline.mmd"))
    assert len(files) >= 20
    results = parse(files)
    for path in files:
        result = results[str(path)]
        assert result["ok"], f"{path}: {result.get('error')}"
        doc = json.loads((path.parents[1] / "json" / "pipeline.json").read_text())
        addresses = {s["address"] for s in doc["stages"]}
        shown = {v for k, v in result["labels"].items() if k.startswith("s_")}
        assert shown == addresses, path


def test_keyword_ids_and_groups(tmp_path: Path) -> None:
    names = ["end", "graph", "subgraph", "class", "classDef", "style", "click", "o", "x", "A"]
    stages = tuple(_stage(n, group="end" if n in "ox" else None) for n in names)
    stages += (_stage("sub/dvc.yaml:end", dvcfile="sub/dvc.yaml"),)
    edges = tuple(pairwise(s.address for s in stages))
    pipe = Pipeline(stages, edges=edges)
    files = []
    for view in ("dag", "levels"):
        for md in (False, True):
            text = MermaidBackend().render(pipe, ExportOptions(view=view, md=md)).main
            files.append(tmp_path / f"{view}-{md}.mmd")
            files[-1].write_text(text)
    results = parse(files)
    for path in files:
        assert results[str(path)]["ok"], results[str(path)]
        shown = {v for k, v in results[str(path)]["labels"].items() if k.startswith("s_")}
        assert shown == {s.address for s in stages}


def test_status_colours_changed_and_up_to_date(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = dvc_repo(
        {
            "dvc.yaml": "stages:\n"
            "  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
            "  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n"
            "  c:\n    cmd: echo c > c.txt\n    frozen: true\n    outs: [c.txt]\n"
        }
    )
    run(["dvc", "repro", "a"], root)
    result = paraffin("export", "mermaid", "-C", root, "--status", "--md", "-o", "-")
    assert result.code == 0, result.stderr
    text = result.stdout
    assert text.startswith("```mermaid\nflowchart TD\n") and text.endswith("```\n")
    assert "    class s_a uptodate\n" in text
    assert "    class s_b changed\n" in text
    assert "    class s_c frozen\n" in text
    out = tmp_path / "status.md"
    out.write_text(text)
    assert parse([out])[str(out)]["ok"]


def test_status_colours_agree_with_paraffin_stale(dvc_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """After a data edit, the stages below the edited one will rerun: coloured
    `stale` (not up to date), and JSON's `stale` is what `paraffin stale` lists."""
    import json

    root = dvc_repo(
        {
            "data.txt": "1\n",
            "dvc.yaml": "stages:\n"
            "  a:\n    cmd: cat data.txt > a.txt\n    deps: [data.txt]\n    outs: [a.txt]\n"
            "  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n"
            "  c:\n    cmd: cat b.txt > c.txt\n    deps: [b.txt]\n    outs: [c.txt]\n"
            "  d:\n    cmd: echo d > d.txt\n    outs: [d.txt]\n",
        }
    )
    run(["dvc", "repro"], root)
    (root / "data.txt").write_text("2\n")
    text = paraffin("export", "mermaid", "-C", root, "--status", "-o", "-").stdout
    assert "    class s_a changed\n" in text
    assert "    class s_b,s_c stale\n" in text
    assert "    class s_d uptodate\n" in text
    out = tmp_path / "status.mmd"
    out.write_text(text)
    assert parse([out])[str(out)]["ok"]

    doc = json.loads(paraffin("export", "json", "-C", root, "--status", "-o", "-").stdout)
    stages = {s["address"]: (s["changed"], s["stale"]) for s in doc["stages"]}
    assert stages == {
        "a": (True, True),
        "b": (False, True),
        "c": (False, True),
        "d": (False, False),
    }
    listed = paraffin("stale", "-C", root).stdout.split()
    assert listed == [a for a, (_, stale) in stages.items() if stale]
    plain = json.loads(paraffin("export", "json", "-C", root, "-o", "-").stdout)
    assert {s["stale"] for s in plain["stages"]} == {None}
