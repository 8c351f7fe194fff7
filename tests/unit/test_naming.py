"""Mangled identifiers never collide, including adversarial pairs."""

from __future__ import annotations

import keyword

from hypothesis import given, settings
from hypothesis import strategies as st

from paraffin_export.naming import make_identifiers, python_identifier

ADVERSARIAL = [
    "a-b",
    "a_b",
    "a.b",
    "a b",
    "a@b",
    "A_B",
    "a_B",
    "train@0",
    "train_0",
    "train@0.1",
    "train@0-1",
    "class",
    "end",
    "all",
    "rule",
    "subgraph",
    "2x",
    "_2x",
    "sub/dvc.yaml:x",
    "sub_dvc_yaml_x",
    "x",
    "",
]


def test_adversarial_pairs_are_distinct_and_legal() -> None:
    reserved = set(keyword.kwlist) | {"all", "rule", "end", "subgraph"}
    ids = make_identifiers(ADVERSARIAL, reserved=reserved, case_insensitive=True)
    assert len({v.casefold() for v in ids.values()}) == len(ADVERSARIAL)
    for name, ident in ids.items():
        assert ident.isidentifier() and not keyword.iskeyword(ident), (name, ident)
        assert ident.casefold() not in reserved
    assert ids["a-b"].startswith("a_b_") and ids["a.b"].startswith("a_b_")
    assert ids["class"].startswith("class_") and ids["2x"].startswith("_2x_")
    # case-insensitively, "A_B" (first in sorted order) keeps its name, "a_b" yields
    assert ids["A_B"] == "A_B" and ids["a_b"].startswith("a_b_")
    assert make_identifiers(ADVERSARIAL)["a_b"] == "a_b"


def test_a_name_shaped_like_a_mangled_one_still_differs() -> None:
    first = make_identifiers(["a-b"])["a-b"]
    ids = make_identifiers(["a-b", first])
    assert ids[first] != ids["a-b"]


def test_length_cap() -> None:
    ids = make_identifiers(["x" * 500, "x" * 501], max_length=250)
    assert all(len(i) <= 250 for i in ids.values()) and len(set(ids.values())) == 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=30, unique=True))
def test_never_collide(names: list[str]) -> None:
    ids = make_identifiers(names, case_insensitive=True)
    assert len({i.casefold() for i in ids.values()}) == len(names)
    assert all(python_identifier(i) == i for i in ids.values())


def test_log_names_readable_and_collision_free() -> None:
    from paraffin_export.naming import log_names

    names = log_names(["train@cnn", "Train@CNN", "sub/dvc.yaml:prep", ".x", "a{b}", "lr=0.1"])
    assert names["Train@CNN"] == "Train@CNN"  # readable: kept as it is
    assert names["lr=0.1"] == "lr=0.1"
    assert names["train@cnn"].startswith("train@cnn_")  # same file as Train@CNN on macOS
    assert names["sub/dvc.yaml:prep"].startswith("sub_dvc.yaml_prep_")
    assert names[".x"].startswith("_.x_") and names["a{b}"].startswith("a_b__")
    assert len({n.casefold() for n in names.values()}) == len(names)
