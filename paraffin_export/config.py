"""`paraffin.yaml`: the predecessor's queue map, extended with per-stage labels.

queue:                  # the predecessor's format, with its meaning: the
  "B_X*": BQueue        # first glob (in file order) that matches a stage wins
stages:                 # labels by glob over stage addresses, in file order;
  "train@*":            # a later match overrides an earlier one key by key
    threads: 4
    retries: 2
    queue: gpu
    pool: gpu_pool
    resources: {mem_mb: 8000, gpu: 1}
    limit: 1            # at most 1 of the stages this glob matches at a time
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .ir import Labels, LabelValue, Limit, Stage

log = logging.getLogger(__name__)

CONFIG_NAME = "paraffin.yaml"
TOP_KEYS = ("queue", "stages")
STAGE_KEYS = ("queue", "threads", "retries", "pool", "resources", "limit")


@dataclass(frozen=True)
class Rule:
    pattern: str
    line: int
    labels: dict[str, Any]
    # `queue:` entries: the predecessor (paraffin 0.2 to 0.3.7) gave a stage
    # the queue of the first glob that matches it; later ones never override.
    first_match: bool = False


@dataclass(frozen=True)
class Config:
    path: str
    rules: tuple[Rule, ...] = ()


def load_config(path: Path, display: str) -> Config:
    """Parse and validate; ``display`` is the path shown in messages."""
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=display) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {getattr(exc, 'problem', exc)}",
            file=display,
            line=mark.line + 1 if mark else None,
        ) from None
    if root is None:
        return Config(display)
    _Checker(display).mapping(root, "the top level")
    rules: list[Rule] = []
    for key, value in root.value:
        name = _Checker(display).key(key, TOP_KEYS, "top-level key")
        rules.extend(_parse_section(name, value, display))
    return Config(display, tuple(rules))


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=node.start_mark.line + 1)

    def mapping(self, node: yaml.Node, what: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")

    def key(self, node: yaml.Node, allowed: Sequence[str], what: str) -> str:
        value = self.scalar(node, what)
        if value not in allowed:
            import difflib

            close = difflib.get_close_matches(value, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.fail(node, f"unknown {what} '{value}'{hint}; allowed: {', '.join(allowed)}")
        return value

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a string")
        return str(node.value)

    def value(self, node: yaml.Node) -> Any:
        return yaml.SafeLoader(" ").construct_object(node, deep=True)


def _parse_section(name: str, node: yaml.Node, file: str) -> list[Rule]:
    check = _Checker(file)
    check.mapping(node, f"'{name}'")
    rules = []
    for key, value in node.value:
        pattern = check.scalar(key, f"a glob in '{name}'")
        line = key.start_mark.line + 1
        if name == "queue":
            queue = check.value(value)
            if not isinstance(queue, str) or not queue:
                raise check.fail(value, f"queue of '{pattern}' must be a non-empty string")
            rules.append(Rule(pattern, line, {"queue": queue}, first_match=True))
        else:
            rules.append(Rule(pattern, line, _stage_labels(pattern, value, check)))
    return rules


def _stage_labels(pattern: str, node: yaml.Node, check: _Checker) -> dict[str, Any]:
    check.mapping(node, f"labels of '{pattern}'")
    labels: dict[str, Any] = {}
    for key, value_node in node.value:
        key_name = check.key(key, STAGE_KEYS, f"key in '{pattern}'")
        value = check.value(value_node)
        problem = _type_problem(key_name, value)
        if problem:
            raise check.fail(value_node, f"'{pattern}': {key_name} {problem}")
        labels[key_name] = value
    return labels


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_problem(key: str, value: Any) -> str | None:
    if key in ("queue", "pool"):
        return None if isinstance(value, str) and value else "must be a non-empty string"
    if key in ("threads", "limit"):
        return None if _is_int(value) and value >= 1 else "must be an integer >= 1"
    if key == "retries":
        return None if _is_int(value) and value >= 0 else "must be an integer >= 0"
    if not isinstance(value, dict):
        return "must be a mapping of name: integer or string"
    for name, item in value.items():
        if not isinstance(name, str) or not (_is_int(item) or isinstance(item, str)):
            return f"entry '{name}' must map a name to an integer or a string"
    return None


def apply_config(
    stages: Sequence[Stage], config: Config
) -> tuple[tuple[Stage, ...], tuple[Limit, ...]]:
    """Label every stage; warn about globs that match no stage at all."""
    limits: dict[str, int] = {}
    merged: dict[str, dict[str, Any]] = {s.address: {} for s in stages}
    queued: set[str] = set()  # stages a `queue:` glob has already claimed
    for rule in config.rules:
        hits = [s.address for s in stages if fnmatchcase(s.address, rule.pattern)]
        if not hits:
            log.warning("%s:%d: '%s' matches no stage", config.path, rule.line, rule.pattern)
        if "limit" in rule.labels:
            limits[rule.pattern] = rule.labels["limit"]
        if rule.first_match:
            hits = [address for address in hits if address not in queued]
            queued.update(hits)
        for address in hits:
            _merge(merged[address], rule)
    labelled = tuple(replace(s, labels=_labels(merged[s.address])) for s in stages)
    return labelled, tuple(Limit(name, slots) for name, slots in limits.items())


def _merge(target: dict[str, Any], rule: Rule) -> None:
    for key, value in rule.labels.items():
        if key == "resources":
            target.setdefault("resources", {}).update(value)
        elif key == "limit":
            target.setdefault("limits", []).append(rule.pattern)
        else:
            target[key] = value


def _labels(values: dict[str, Any]) -> Labels:
    resources: dict[str, LabelValue] = values.get("resources", {})
    return Labels(
        queue=values.get("queue"),
        threads=values.get("threads"),
        retries=values.get("retries"),
        pool=values.get("pool"),
        resources=tuple(sorted(resources.items())),
        limits=tuple(dict.fromkeys(values.get("limits", ()))),
    )
