"""paraffin.yaml: the predecessor's format verbatim, labels by glob, validation."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from paraffin_export.config import apply_config, load_config
from paraffin_export.errors import ConfigError
from paraffin_export.ir import Stage


def _stages(*names: str) -> list[Stage]:
    return [Stage(address=n, name=n, dvcfile="dvc.yaml", wdir=".", cmd=("true",)) for n in names]


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "paraffin.yaml"
    path.write_text(text)
    return load_config(path, "paraffin.yaml")


def test_predecessor_queue_format(tmp_path: Path) -> None:
    config = _load(tmp_path, 'queue:\n    "B_X*": BQueue\n    "A_X_AddNodeNumbers": AQueue\n')
    stages, limits = apply_config(_stages("B_X_1", "A_X_AddNodeNumbers", "C"), config)
    assert [s.labels.queue for s in stages] == ["BQueue", "AQueue", None]
    assert limits == ()


def test_labels_merge_in_file_order(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "queue:\n  'train@*': gpu\n"
        "stages:\n"
        "  'train@*':\n    threads: 4\n    resources: {mem_mb: 100, gpu: 1}\n    limit: 1\n"
        "  'train@b':\n    queue: big\n    retries: 2\n    resources: {mem_mb: 200}\n",
    )
    a, b, other = apply_config(_stages("train@a", "train@b", "other"), config)[0]
    assert a.labels.queue == "gpu" and a.labels.threads == 4 and a.labels.limits == ("train@*",)
    assert a.labels.resource_dict() == {"gpu": 1, "mem_mb": 100}
    assert b.labels.queue == "big" and b.labels.retries == 2
    assert b.labels.resource_dict() == {"gpu": 1, "mem_mb": 200}
    assert other.labels.queue is None and other.labels.limits == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "paraffin.yaml:1: the top level must be a mapping"),
        (
            "queues:\n  a: b\n",
            "paraffin.yaml:1: unknown top-level key 'queues' (did you mean 'queue'?)",
        ),
        (
            "stages:\n  a:\n    thread: 2\n",
            "paraffin.yaml:3: unknown key in 'a' 'thread' (did you mean 'threads'?)",
        ),
        (
            "stages:\n  a:\n    threads: two\n",
            "paraffin.yaml:3: 'a': threads must be an integer >= 1",
        ),
        ("stages:\n  a:\n    limit: 0\n", "paraffin.yaml:3: 'a': limit must be an integer >= 1"),
        ("stages:\n  a:\n    limit: true\n", "paraffin.yaml:3: 'a': limit must be an integer >= 1"),
        (
            "stages:\n  a:\n    retries: -1\n",
            "paraffin.yaml:3: 'a': retries must be an integer >= 0",
        ),
        (
            "stages:\n  a:\n    resources: [1]\n",
            "paraffin.yaml:3: 'a': resources must be a mapping",
        ),
        ("queue:\n  a: [x]\n", "paraffin.yaml:2: queue of 'a' must be a non-empty string"),
        ("queue: [\n", "paraffin.yaml:2: invalid YAML"),
    ],
)
def test_invalid_config(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert str(info.value).startswith(message), str(info.value)


def test_glob_matching_nothing_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = _load(tmp_path, "queue:\n  'nope*': q\n")
    with caplog.at_level(logging.WARNING, logger="paraffin_export"):
        apply_config(_stages("a"), config)
    assert "paraffin.yaml:2: 'nope*' matches no stage" in caplog.text


def test_empty_config_is_fine(tmp_path: Path) -> None:
    assert _load(tmp_path, "").rules == ()
