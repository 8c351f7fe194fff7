"""Collision-free identifiers for stage addresses.

Every engine has its own idea of a legal name (Python identifiers for
Snakemake rules, ``[\\w.-]`` for Airflow task ids, keyword-free node ids for
mermaid). The rule is the same for all of them: keep a legal name as it is,
and give any name we had to change a suffix derived from the full address,
so two different addresses can never end up with the same identifier.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable

_NON_WORD = re.compile(r"[^A-Za-z0-9_]")


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def python_identifier(address: str) -> str:
    """ASCII identifier: runs of other characters become one underscore."""
    ident = _NON_WORD.sub("_", address)
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    return ident


def make_identifiers(
    addresses: Iterable[str],
    *,
    sanitize: Callable[[str], str] = python_identifier,
    reserved: Collection[str] = (),
    max_length: int = 200,
    case_insensitive: bool = False,
) -> dict[str, str]:
    """Map each address to a unique legal identifier, deterministically.

    A name that survives ``sanitize`` unchanged (and is not reserved) is kept;
    any other gets ``_<hash of the address>``. Should two results still meet
    (a hash collision, or a real stage literally named like a mangled one),
    the later address in sorted order gets a longer hash until unique.
    """
    fold = str.casefold if case_insensitive else (lambda s: s)
    reserved_keys = {fold(r) for r in reserved}
    result: dict[str, str] = {}
    taken: set[str] = set()
    for address in sorted(set(addresses)):
        length = 8
        ident = _candidate(address, sanitize, reserved_keys, fold, max_length, length)
        while fold(ident) in taken:
            length += 4
            ident = _force_hashed(address, sanitize, max_length, length)
        taken.add(fold(ident))
        result[address] = ident
    return result


def _candidate(
    address: str,
    sanitize: Callable[[str], str],
    reserved: set[str],
    fold: Callable[[str], str],
    max_length: int,
    length: int,
) -> str:
    ident = sanitize(address)
    if ident == address and fold(ident) not in reserved and len(ident) <= max_length:
        return ident
    return _force_hashed(address, sanitize, max_length, length)


def _force_hashed(
    address: str, sanitize: Callable[[str], str], max_length: int, length: int
) -> str:
    suffix = "_" + short_hash(address, length)
    return sanitize(address)[: max_length - len(suffix)] + suffix


_NOT_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9_.@+=-]")


def file_name(address: str) -> str:
    """A readable file name for an address: `train@cnn` stays as it is,
    other characters (`/`, `:`, spaces, braces that Snakemake would read as
    wildcards) become `_`; no leading dot or dash."""
    name = _NOT_IN_FILE_NAME.sub("_", address)
    if not name or name[0] in ".-":
        name = "_" + name
    return name


def log_names(addresses: Iterable[str]) -> dict[str, str]:
    """Address -> job log name (without `.log`): readable, and unique even on
    case-insensitive filesystems. The generated Snakefile (`log:`) and the
    runner in it (`runtime.plan`) compute it from the same addresses."""
    return make_identifiers(addresses, sanitize=file_name, max_length=120, case_insensitive=True)
