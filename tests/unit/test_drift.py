"""What a stale generated workflow reports (issue 16, point 2): pure functions."""

from __future__ import annotations

from paraffin_export import drift


def test_changes_in_words() -> None:
    old, old_edges = ["a", "b", "c"], {("a", "b")}
    assert drift.changes(old, old_edges, {"a", "b", "c"}, {("a", "b")}) == []
    assert drift.changes(old, old_edges, {"a", "b2", "c"}, {("a", "b2")}) == [
        "stage 'b' renamed to 'b2'"
    ]
    assert drift.changes(old, old_edges, {"a", "b", "c", "d"}, {("a", "b"), ("c", "d")}) == [
        "stage 'd' added"
    ]
    assert drift.changes(old, old_edges, {"a", "b", "c"}, {("a", "b"), ("b", "c")}) == [
        "edge 'b' -> 'c' added"
    ]


def test_selection_follows_the_export_scope() -> None:
    edges = {("a", "b"), ("b", "c"), ("x", "b")}
    everything = {"a", "b", "c", "x", "y"}
    assert drift.selection(everything, edges, {"b"}, "all") == everything
    assert drift.selection(everything, edges, {"b"}, "upstream") == {"a", "b", "x"}
    assert drift.selection(everything, edges, {"b"}, "downstream") == {"b", "c"}
    assert drift.selection(everything, edges, {"b", "gone"}, "single") == {"b"}
