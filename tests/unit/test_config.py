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


# The predecessor's own rule (paraffin 0.2 `submit.py` and 0.3.7 `db/app.py`):
# `for pattern, q in queues.items(): if fnmatch(name, pattern): queue = q; break`,
# i.e. the first glob in file order that matches a stage gives its queue.
PREDECESSOR_QUEUES = [
    # (paraffin.yaml queue map, stage, queue paraffin 0.2 / 0.3.7 gave it)
    ({"B_X*": "BQueue", "B_*": "OtherQueue"}, "B_X_ParamsToOuts", "BQueue"),
    ({"B_X*": "BQueue", "B_*": "OtherQueue"}, "B_Y_ParamsToOuts", "OtherQueue"),
    ({"B_*": "OtherQueue", "B_X*": "BQueue"}, "B_X_ParamsToOuts", "OtherQueue"),
    ({"B_X*": "BQueue", "A_X_AddNodeNumbers": "AQueue"}, "A_X_AddNodeNumbers", "AQueue"),
    ({"B_X*": "BQueue", "A_X_AddNodeNumbers": "AQueue"}, "A_SumNodeAttributes", None),
    ({"*": "all", "train@*": "gpu"}, "train@1", "all"),
    ({"train@[0-4]": "small", "train@*": "big"}, "train@3", "small"),
    ({"train@[0-4]": "small", "train@*": "big"}, "train@7", "big"),
    ({"b_x*": "lower"}, "B_X_1", None),  # fnmatch on POSIX is case-sensitive
    # 0.3.7 matched DVC's address, `sub/dvc.yaml:name`, for a nested dvc.yaml
    ({"exp1/dvc.yaml:*": "sub", "*": "rest"}, "exp1/dvc.yaml:01_pre", "sub"),
]


@pytest.mark.parametrize(("queues", "stage", "expected"), PREDECESSOR_QUEUES)
def test_first_matching_queue_glob_wins_as_in_the_predecessor(
    tmp_path: Path, queues: dict[str, str], stage: str, expected: str | None
) -> None:
    text = "queue:\n" + "".join(f"  {glob!r}: {queue}\n" for glob, queue in queues.items())
    (labelled,), _ = apply_config(_stages(stage), _load(tmp_path, text))
    assert labelled.labels.queue == expected


def test_stages_section_layers_over_the_queue_map(tmp_path: Path) -> None:
    """`stages:` keeps its own rule (later overrides earlier), also for `queue`."""
    config = _load(
        tmp_path,
        "queue:\n  'B_X*': BQueue\n  'B_*': OtherQueue\n"
        "stages:\n  'B_*':\n    queue: s1\n  'B_Y*':\n    queue: s2\n",
    )
    x, y = apply_config(_stages("B_X_1", "B_Y_1"), config)[0]
    assert (x.labels.queue, y.labels.queue) == ("s1", "s2")


def test_a_shadowed_queue_glob_does_not_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _load(tmp_path, "queue:\n  'B_*': first\n  'B_X*': never\n")
    with caplog.at_level(logging.WARNING, logger="paraffin_export"):
        (stage,), _ = apply_config(_stages("B_X_1"), config)
    assert stage.labels.queue == "first" and "matches no stage" not in caplog.text
