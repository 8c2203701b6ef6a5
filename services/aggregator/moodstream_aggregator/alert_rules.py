"""Alert rules: the YAML file that defines them, and evaluating one over a window.

A rules file (``AGGREGATOR_ALERT_RULES``) looks like::

    rules:
      - name: negative-spike
        metric: negative_share      # negative_share | positive_share | neutral_share | mean_score
        above: 0.4                  # or `below:`; a share is in 0..1, mean_score in -1..1
        window_minutes: 5           # the newest N one-minute windows of event time
        min_messages: 50            # fewer messages than this: the condition does not hold
        hashtag: launch             # optional: only messages with this hashtag

Pure: no Faust, no I/O beyond reading the file, so the rules are unit-tested alone.
A file that is not valid YAML, has a field this module does not know, or a threshold
out of range is refused with a :class:`RuleFileError` that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from moodstream_aggregator.keys import hashtag_of, tag_window
from moodstream_aggregator.kinds import RowKind
from moodstream_common.records import LABELS

Metric = Literal["negative_share", "positive_share", "neutral_share", "mean_score"]
SCOPE_ALL = "all"
MAX_WINDOW_MINUTES = 1_440  # the minute windows kept by default (minute_windows_retained)
RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RuleFileError(ValueError):
    """A rules file that cannot be used; the message names the file and the field."""


class Rule(BaseModel):
    """One alert rule: a condition on a metric over the newest minutes of event time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Unique; part of every alert id.")
    metric: Metric
    above: float | None = None
    below: float | None = None
    window_minutes: int = Field(default=5, ge=1, le=MAX_WINDOW_MINUTES)
    min_messages: int = Field(default=1, ge=1)
    hashtag: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_an_identifier(cls, name: str) -> str:
        if not RULE_NAME.match(name):
            raise ValueError(
                "letters, digits, '_', '.', '-' (up to 64), starting with one of the first two"
            )
        return name

    @field_validator("hashtag")
    @classmethod
    def _hashtag_as_extracted(cls, tag: str | None) -> str | None:
        if tag is None:
            return None
        normalized = hashtag_of(tag)
        if not normalized:
            raise ValueError("a hashtag, with or without #")
        return normalized

    @model_validator(mode="after")
    def _one_threshold_in_range(self) -> Rule:
        given = [
            (side, value)
            for side, value in (("above", self.above), ("below", self.below))
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of 'above' or 'below'")
        side, value = given[0]
        low, high = (-1.0, 1.0) if self.metric == "mean_score" else (0.0, 1.0)
        if not low <= value <= high:
            raise ValueError(f"{side}: {self.metric} is in {low:g}..{high:g}, got {value:g}")
        return self

    @property
    def threshold(self) -> float:
        """The value the metric is compared with."""
        return self.above if self.above is not None else float(self.below)  # type: ignore[arg-type]  # the validator guarantees one is set

    @property
    def comparison(self) -> str:
        """``"above"`` or ``"below"``."""
        return "above" if self.above is not None else "below"

    @property
    def scope(self) -> str:
        """``"all"`` or ``"#<hashtag>"``: which messages the rule watches."""
        return f"#{self.hashtag}" if self.hashtag else SCOPE_ALL

    def row_kind(self) -> RowKind:
        """The kind of per-minute row the rule reads."""
        return RowKind.HASHTAG_SERIES if self.hashtag else RowKind.MINUTE

    def row_keys(self, minute_starts: Iterable[int]) -> list[str]:
        """The keys of those rows for the given minute windows."""
        if self.hashtag:
            return [tag_window(start, self.hashtag) for start in minute_starts]
        return [str(start) for start in minute_starts]


class RuleFile(BaseModel):
    """The whole file: a list of rules with distinct names."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _names_are_unique(cls, rules: list[Rule]) -> list[Rule]:
        names = [rule.name for rule in rules]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"rule names must be unique: {', '.join(duplicated)}")
        return rules


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    """The rules in a YAML document; :class:`RuleFileError` naming the bad field."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{source}: not valid YAML: {exc}") from exc
    if document is None:
        return []
    if not isinstance(document, dict):
        raise RuleFileError(f"{source}: expected a mapping with a 'rules' list")
    try:
        return RuleFile.model_validate(document).rules
    except ValidationError as exc:
        problems = "; ".join(
            f"{_field_path(error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise RuleFileError(f"{source}: {problems}") from exc


def load_rules(path: str) -> list[Rule]:
    """The rules in the file at ``path`` (none for an empty path)."""
    if not path:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read the rules file: {exc.strerror}") from exc
    return parse_rules(text, path)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "rules"


@dataclass(frozen=True)
class Observation:
    """What a rule saw over its window: the messages counted and the metric's value."""

    messages: int
    value: float
    holds: bool


def observe(rule: Rule, rows: Iterable[dict[str, float]]) -> Observation:
    """Evaluate ``rule`` over the summed sentiment rows of its window."""
    counts = dict.fromkeys(LABELS, 0.0)
    score_sum = 0.0
    for row in rows:
        for label in LABELS:
            counts[label] += row.get(label, 0)
        score_sum += row.get("score_sum", 0.0)
    messages = int(sum(counts.values()))
    if not messages:
        return Observation(messages=0, value=0.0, holds=False)
    if rule.metric == "mean_score":
        value = score_sum / messages
    else:
        value = counts[rule.metric.removesuffix("_share")] / messages
    value = round(value, 6)
    crossed = value > rule.threshold if rule.comparison == "above" else value < rule.threshold
    return Observation(
        messages=messages, value=value, holds=crossed and messages >= rule.min_messages
    )
