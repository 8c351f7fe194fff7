"""`dvc.lock` entries read and written fast, with exactly DVC's bytes.

DVC reads `dvc.lock` with ruamel's round-trip parser and writes it with
ruamel's dumper (`dvc.utils.serialize`), both pure Python: with 400 stages a
rerun spent over a second of the coordinator's time in them, time Snakemake's
scheduler then waits for (they share one interpreter; issue 18, goal 3).

`entry_text` lays out the entries DVC writes (mappings, lists, plain
strings, integers, booleans) as ruamel lays them out, and returns None for
anything else (floats, nulls, empty collections, a string ruamel would quote
or fold, non-ASCII), so the caller asks ruamel instead. `canonical_pieces`
cuts a file into its entries with libyaml's parser and accepts the file only
when every entry's text is exactly `entry_text` of its data: such a file is
what DVC's dumper writes for that data, so splicing new entries between its
pieces gives the bytes DVC's parse-and-dump would (tests/unit/test_lockyaml.py
checks `entry_text` against ruamel on every corpus `dvc.lock` and on generated
entries). Anything else (comments, another layout, values libyaml and ruamel
could read differently) falls back to DVC's own parser and dumper.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

HEAD = "schema: '2.0'\nstages:\n"
WIDTH = 78  # a longer line with a space in its value: ruamel may fold it (at 80)

# characters a plain scalar may hold without ruamel quoting it (no ': ', ' #',
# flow or tag indicators, quotes); the first character is stricter still
_SAFE = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./ &>=+*|<;()$~,!%@?\[\]{}-]*\Z")
STR = "tag:yaml.org,2002:str"
# what DVC's serializer builds (ruamel's CommentedMap, read for update, may
# carry comments its dumper keeps: not laid out here)
MAPPINGS = (dict, OrderedDict)


def _scalar(value: Any) -> str | None:
    # exact types: ruamel's own subclasses (a quoted or hex scalar read for
    # update) carry a style its dumper keeps
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is not str or not _SAFE.match(value):
        return None
    if value != value.strip() or value.startswith(("...", "---")) or not _plain_str(value):
        return None
    return value


# YAML 1.1's and 1.2's implicit types start with one of these characters
# (numbers, timestamps, `.inf`, merge `<<`, value `=`, null `~`) or are one of
# these words (booleans, null): any other plain string reads as a string
_TYPED_START = frozenset("-+.0123456789<=~")
_TYPED_WORDS = frozenset(
    f(word)
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for f in (str.lower, str.title, str.upper)
)


def _plain_str(value: str) -> bool:
    """Both YAML 1.1 (libyaml, which reads it here) and 1.2 (ruamel, which
    DVC reads it with) read ``value`` written plain as this string."""
    if not value:
        return False  # null
    if value[0] not in _TYPED_START:
        return value not in _TYPED_WORDS
    import yaml
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    global _RESOLVERS
    if _RESOLVERS is None:
        _RESOLVERS = (yaml.resolver.Resolver(), VersionedResolver())
    old, new = _RESOLVERS
    return (
        old.resolve(yaml.ScalarNode, value, (True, False)) == STR
        and new.resolve(ScalarNode, value, (True, False)) == STR
    )


_RESOLVERS: tuple[Any, Any] | None = None


def _line(lines: list[str], text: str) -> bool:
    """Add ``text`` unless ruamel could fold it (a space past its width)."""
    if len(text) > WIDTH and " " in text.lstrip(" -"):
        return False
    lines.append(text + "\n")
    return True


def _mapping(data: dict[Any, Any], indent: int, lines: list[str], first: str = "") -> bool:
    """``data`` as a block mapping at ``indent``; ``first`` replaces the
    indentation of the first line (a list item's dash)."""
    pad = " " * indent
    for i, (key, value) in enumerate(data.items()):
        key_text = _scalar(key) if isinstance(key, str) else None
        if key_text is None:
            return False
        lead = first if (i == 0 and first) else pad
        if type(value) in MAPPINGS:
            if not value:
                return False
            lines.append(f"{lead}{key_text}:\n")
            if not _mapping(value, indent + 2, lines):
                return False
        elif type(value) is list:
            if not value:
                return False
            lines.append(f"{lead}{key_text}:\n")
            if not _sequence(value, indent, lines):
                return False
        else:
            text = _scalar(value)
            if text is None:
                return False
            if not _line(lines, f"{lead}{key_text}: {text}"):
                return False
    return True


def _sequence(items: list[Any], indent: int, lines: list[str]) -> bool:
    """A block sequence under a key at ``indent``: ruamel puts the dashes at
    the key's own indentation."""
    pad = " " * indent
    for item in items:
        if type(item) in MAPPINGS:
            if not item or not _mapping(item, indent + 2, lines, first=f"{pad}- "):
                return False
        else:
            text = _scalar(item)  # None for a list: not laid out here
            if text is None:
                return False
            if not _line(lines, f"{pad}- {text}"):
                return False
    return True


def entry_text(name: str, entry: Any) -> str | None:
    """The text ruamel writes for stage ``name`` under `stages:` (indented
    by two), or None when this layout cannot promise ruamel's bytes."""
    return _layout({name: entry}, 2) if type(entry) in MAPPINGS and entry else None


def document_text(data: Any) -> str | None:
    """``data`` (a mapping) as a YAML document laid out as ruamel's dumper
    lays it out, or None (e.g. DVC's run-cache entries)."""
    return _layout(data, 0) if type(data) in MAPPINGS and data else None


def _layout(data: dict[Any, Any], indent: int) -> str | None:
    lines: list[str] = []
    return "".join(lines) if _mapping(data, indent, lines) else None


def whole_text(stages: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """A `dvc.lock` of ``stages`` and its pieces, or None (ask ruamel)."""
    parts = {}
    for name, entry in stages.items():
        text = entry_text(name, entry)
        if text is None:
            return None
        parts[name] = text
    return HEAD + "".join(parts.values()), parts


def canonical_pieces(text: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(stages as plain data, each entry's text) when ``text`` is exactly
    what DVC's dumper writes for its content, else None."""
    import yaml

    if not text.startswith(HEAD):
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or list(data) != ["schema", "stages"]:
        return None
    if data["schema"] != "2.0" or not isinstance(data["stages"], dict):
        return None
    found = whole_text(data["stages"])
    if found is None or found[0] != text:
        return None
    return data["stages"], found[1]
