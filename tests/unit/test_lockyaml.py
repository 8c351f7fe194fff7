"""`lockyaml`: the fast layout of `dvc.lock` entries is byte for byte what
DVC's ruamel dumper writes, or it declines; a file is read fast only when it
is exactly DVC's layout of its own content."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from conftest import CORPUS
from hypothesis import given, settings
from hypothesis import strategies as st

from paraffin_export import lockyaml


def _yaml_text(data: Any) -> str:
    """DVC's ruamel dumper itself (not `dvc.utils.serialize._yaml._dump`,
    which `dvcreads.install` replaces in a process that loaded DVC)."""
    from dvc.utils.serialize._yaml import _get_yaml

    stream = io.StringIO()
    _get_yaml().dump(data, stream)
    return stream.getvalue()


def _ruamel_entry(name: str, entry: Any) -> str:
    return _yaml_text({"stages": {name: entry}}).removeprefix("stages:\n")


def _corpus() -> list[tuple[Path, Any]]:
    """Each corpus `dvc.lock` as plain data, as DVC's serializer builds it."""
    from dvc.utils.serialize import parse_yaml

    return [(p, parse_yaml(p.read_text(), str(p))) for p in sorted(CORPUS.rglob("dvc.lock"))]


def test_every_corpus_entry_is_laid_out_as_ruamel_does_or_declined() -> None:
    taken = 0
    for path, data in _corpus():
        for name, entry in (data.get("stages") or {}).items():
            fast = lockyaml.entry_text(name, entry)
            if fast is not None:
                assert fast == _ruamel_entry(name, entry), (path, name)
                taken += 1
    assert taken >= 60  # the usual entries are laid out fast, not all declined


# shell commands, paths and hashes, with the characters YAML treats specially
TEXT = st.text(alphabet="ab0.1/_ &>=+*|<;()$~,!%@?[]{}-:#'\"\\e9xEy\tn", max_size=90)
SCALAR = st.one_of(TEXT, st.integers(-(10**12), 10**12), st.booleans(), st.none(), st.floats())
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(name=TEXT, entry=st.dictionaries(TEXT, VALUE, min_size=1, max_size=4))
def test_generated_entries_are_laid_out_as_ruamel_does_or_declined(
    name: str, entry: dict[str, Any]
) -> None:
    fast = lockyaml.entry_text(name, entry)
    if fast is not None:
        assert fast == _ruamel_entry(name, entry)


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(TEXT, VALUE, min_size=1, max_size=4))
def test_generated_documents_are_laid_out_as_ruamel_does_or_declined(
    document: dict[str, Any],
) -> None:
    """DVC's other YAML dumps (a run-cache entry: one stage's lock data)."""
    fast = lockyaml.document_text(document)
    if fast is not None:
        assert fast == _yaml_text(document)


def test_run_cache_entries_are_laid_out_as_ruamel_does() -> None:
    for i in range(5):
        entry = _usual(i)
        assert lockyaml.document_text(entry) == _yaml_text(entry)


@settings(max_examples=300, deadline=None)
@given(
    name=st.from_regex(r"[a-z_][a-z0-9_@.-]{0,12}", fullmatch=True),
    cmd=st.from_regex(r"[a-z][a-z0-9 ./&>|*<;=-]{0,100}", fullmatch=True),
    size=st.integers(0, 10**12),
)
def test_usual_entries_are_laid_out_fast_as_ruamel_does(name: str, cmd: str, size: int) -> None:
    entry = {
        "cmd": cmd,
        "deps": [{"path": "data/in.csv", "hash": "md5", "md5": "0" * 31 + "1", "size": size}],
        "params": {"params.yaml": {"train.epochs": size, "flag": True}},
        "outs": [{"path": "out", "hash": "md5", "md5": "a" * 28 + ".dir", "nfiles": 2}],
    }
    fast = lockyaml.entry_text(name, entry)
    if fast is not None:
        assert fast == _ruamel_entry(name, entry)


def _usual(i: int) -> dict[str, Any]:
    md5 = hashlib.md5(str(i).encode()).hexdigest()
    return {
        "cmd": [f"python train.py --seed {i}", "cat out/* > all"] if i % 2 else f"echo {i} > o{i}",
        "deps": [{"path": "data/in.csv", "hash": "md5", "md5": md5, "size": i}],
        "params": {"params.yaml": {"train.epochs": i, "flag": bool(i % 3)}},
        "outs": [{"path": f"o{i}", "hash": "md5", "md5": f"{md5}.dir", "nfiles": 2}],
    }


def test_dvcs_own_layout_is_read_fast_and_other_layouts_are_not() -> None:
    usual = {"schema": "2.0", "stages": {f"s@{i}": _usual(i) for i in range(5)}}
    corpus = [data for _, data in _corpus()]
    accepted = 0
    for data in [usual, *corpus]:
        text = _yaml_text(data)  # what DVC writes for this content
        found = lockyaml.canonical_pieces(text)
        if found is None:
            assert data is not usual
            continue
        stages, parts = found
        assert stages == data["stages"]
        assert lockyaml.HEAD + "".join(parts.values()) == text
        first = next(iter(parts))
        for other in (
            text.replace("stages:\n", "stages:\n# a note\n", 1),  # a comment
            text.replace(f"  {first}:\n", f"  {first}:  \n", 1),  # not DVC's bytes
            text.replace("\n    cmd: ", "\n    cmd:  ", 1),
            text.replace("\n    - path: ", "\n      - path: ", 1),  # another indentation
            text.replace("'2.0'", '"2.0"', 1),
            text + "extra: 1\n",
        ):
            if other != text:
                assert lockyaml.canonical_pieces(other) is None, other[:200]
        accepted += 1
    assert accepted >= 2  # ours and a real project's


def test_values_yaml_11_and_12_read_differently_are_declined() -> None:
    for value in ("yes", "No", "on", "1_000", "0o17", "1:20", "0x1F", "1e3", ".5", "null", "~"):
        assert lockyaml.entry_text("s", {"cmd": value}) is None, value
    assert lockyaml.canonical_pieces(lockyaml.HEAD + "  s:\n    cmd: yes\n") is None


def test_dvc_reads_a_lock_file_in_its_own_layout_to_the_same_data(tmp_path: Path) -> None:
    """`dvcreads`: what libyaml gives DVC for a file in DVC's layout equals
    DVC's own read of it; other files are left to DVC."""
    from types import SimpleNamespace

    from dvc.fs import LocalFileSystem
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA
    from dvc.utils.strictyaml import load

    from paraffin_export.dvcreads import _lock_data

    usual = {"schema": "2.0", "stages": {f"s@{i}": _usual(i) for i in range(5)}}
    texts = [_yaml_text(usual), *(path.read_text() for path, _ in _corpus())]
    fast = 0
    for i, text in enumerate(texts):
        path = tmp_path / f"{i}.lock"
        path.write_text(text)
        repo = SimpleNamespace(fs=LocalFileSystem())
        lock = SimpleNamespace(path=str(path), repo=repo, SCHEMA=COMPILED_LOCKFILE_SCHEMA)
        found = _lock_data(lock, lambda: "DVC")
        if found != "DVC":
            assert found == load(str(path), COMPILED_LOCKFILE_SCHEMA), text[:200]
            fast += 1
    assert fast >= 2


WORDS = st.sampled_from(["yes", "no", "true", "false", "on", "off", "null", "y", "n", "~", ""])
CASED = WORDS.flatmap(lambda w: st.sampled_from([w, w.title(), w.upper(), w + "x", "x" + w]))


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(CASED, st.text(alphabet="yYnNoOfFtTeE.0-+:_/x<=~", min_size=1)))
def test_the_first_character_gate_agrees_with_both_resolvers(value: str) -> None:
    """`_plain_str`'s shortcut (no implicit type starts with this character,
    and it is not a boolean or null word) equals asking libyaml's and
    ruamel's resolvers."""
    import yaml
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    old = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))
    new = VersionedResolver().resolve(ScalarNode, value, (True, False))
    assert lockyaml._plain_str(value) == (old == new == lockyaml.STR)
