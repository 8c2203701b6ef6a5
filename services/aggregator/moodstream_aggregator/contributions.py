"""What one message adds to the aggregates, and how to apply or retract it.

Pure functions, no Faust: the aggregator keeps each message's current
:class:`Contribution` in a table, and on every event applies ``new - old``. A
redelivered event has ``new == old`` and changes nothing, which is what makes the
aggregates idempotent under at-least-once delivery and replay.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from moodstream_aggregator.keys import tag_window
from moodstream_aggregator.kinds import MINUTE, SECOND, RowKind
from moodstream_common.records import (
    EVENT_UPDATE,
    LABELS,
    LANGUAGE_UNDETERMINED,
    UNSCORED,
    ScoredMessage,
)

LANGUAGE_PREFIX = "lang:"
"""A row counts its messages per language under ``lang:<code>`` (flat keys, so rows of
two partitions or two workers still merge by adding)."""


@dataclass(frozen=True)
class Contribution:
    """The part of a message that the aggregates count. ``label`` is a sentiment label,
    or :data:`UNSCORED` for an update the analyzer did not score (its language)."""

    label: str
    score: float
    event_time: float
    user_id: str | None = None
    hashtags: tuple[str, ...] = field(default_factory=tuple)
    model_version: str = ""
    language: str = LANGUAGE_UNDETERMINED

    def to_json(self) -> dict[str, Any]:
        """Table value form (field by field: ``dataclasses.asdict`` deep-copies, and cost
        a fifth of applying a record)."""
        return {
            "label": self.label,
            "score": self.score,
            "event_time": self.event_time,
            "user_id": self.user_id,
            "hashtags": list(self.hashtags),
            "model_version": self.model_version,
            "language": self.language,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Contribution:
        """Inverse of :meth:`to_json`."""
        return cls(
            label=data["label"],
            score=float(data["score"]),
            event_time=float(data["event_time"]),
            user_id=data.get("user_id"),
            hashtags=tuple(data.get("hashtags") or ()),
            model_version=data.get("model_version", ""),
            language=data.get("language", LANGUAGE_UNDETERMINED),
        )


def contribution_of(record: ScoredMessage) -> Contribution | None:
    """The contribution ``record`` makes: ``None`` for a delete, or for an update with
    neither a label nor an ``unscored_reason``. An update the analyzer left unscored
    counts, as :data:`UNSCORED`, with its language and hashtags."""
    if record.type != EVENT_UPDATE:
        return None
    if record.label in LABELS:
        label = record.label
    elif record.label is None and record.unscored_reason:
        label = UNSCORED
    else:
        return None
    return Contribution(
        label=label,
        score=round(float(record.score), 6),
        event_time=float(record.event_time),
        user_id=record.user_id,
        hashtags=tuple(sorted(set(record.hashtags))),
        model_version=record.model_version,
        language=record.language or LANGUAGE_UNDETERMINED,
    )


def window_start(event_time: float, size: int) -> int:
    """Start (epoch seconds) of the ``size``-second tumbling window holding ``event_time``."""
    return int(event_time // size) * size


class Delta(NamedTuple):
    """A signed change to one aggregate row: ``sign`` is +1 (apply) or -1 (retract).

    A named tuple, not a dataclass: an update makes a dozen, and it is the cheapest."""

    kind: RowKind  # one of the published kinds
    key: str
    sign: int
    contribution: Contribution
    tag: str | None = None  # set for HASHTAG_MINUTE: rows there count tags, not labels


def deltas(old: Contribution | None, new: Contribution | None) -> Iterator[Delta]:
    """The changes that turn aggregates holding ``old`` into aggregates holding ``new``."""
    if old == new:
        return
    if old is not None:
        yield from _rows(old, -1)
    if new is not None:
        yield from _rows(new, +1)


def _rows(contribution: Contribution, sign: int) -> Iterator[Delta]:
    second = window_start(contribution.event_time, SECOND)
    minute = window_start(contribution.event_time, MINUTE)
    yield Delta(RowKind.TOTAL, "all", sign, contribution)
    yield Delta(RowKind.LANGUAGE, contribution.language, sign, contribution)
    yield Delta(RowKind.SECOND, str(second), sign, contribution)
    yield Delta(RowKind.MINUTE, str(minute), sign, contribution)
    if contribution.user_id:
        yield Delta(RowKind.USER, contribution.user_id, sign, contribution)
    for tag in contribution.hashtags:
        yield Delta(RowKind.HASHTAG_MINUTE, str(minute), sign, contribution, tag=tag)
        yield Delta(RowKind.HASHTAG_SERIES, tag_window(minute, tag), sign, contribution)
        yield Delta(RowKind.HASHTAG, tag, sign, contribution)


def empty_counts() -> dict[str, float]:
    """A sentiment row with nothing counted."""
    return {"positive": 0, "neutral": 0, "negative": 0, UNSCORED: 0, "score_sum": 0.0}


def apply_delta(counts: dict[str, float] | None, delta: Delta) -> dict[str, float]:
    """``counts`` with ``delta`` applied (a new dict; table values must be reassigned).

    Returns ``{}`` when a hashtag row has nothing left, so the caller can delete it.
    """
    return add_delta(dict(counts or {}), delta)


def add_delta(counts: dict[str, float], delta: Delta) -> dict[str, float]:
    """Apply ``delta`` to ``counts`` in place (a row this caller owns); returns it.

    An empty sentiment row starts from :func:`empty_counts`.
    """
    if delta.tag is not None:
        remaining = counts.get(delta.tag, 0) + delta.sign
        if remaining > 0:
            counts[delta.tag] = remaining
        else:
            counts.pop(delta.tag, None)
        return counts
    if not counts:
        counts.update(empty_counts())
    label = delta.contribution.label
    counts[label] = counts.get(label, 0) + delta.sign
    if label != UNSCORED:
        counts["score_sum"] = round(
            counts.get("score_sum", 0.0) + delta.sign * delta.contribution.score, 6
        )
    language = LANGUAGE_PREFIX + delta.contribution.language
    remaining = counts.get(language, 0) + delta.sign
    if remaining:
        counts[language] = remaining
    else:
        counts.pop(language, None)
    return counts


def summarize(counts: dict[str, float] | None) -> dict[str, Any]:
    """Chart-ready form: label counts, ``unscored``, ``total`` (every message, unscored
    ones too), the mean score of the scored ones, and ``languages``: messages per
    language, most first."""
    counts = counts or empty_counts()
    scored = int(sum(counts.get(label, 0) for label in LABELS))
    unscored = int(counts.get(UNSCORED, 0))
    mean = counts.get("score_sum", 0.0) / scored if scored else 0.0
    return {
        **{label: int(counts.get(label, 0)) for label in LABELS},
        UNSCORED: unscored,
        "total": scored + unscored,
        "mean_score": round(mean, 4),
        "languages": languages_of(counts),
    }


def languages_of(counts: dict[str, float]) -> dict[str, int]:
    """``{language: messages}`` of a row, most first (ties by code), zeros left out."""
    found = [
        (name[len(LANGUAGE_PREFIX) :], int(value))
        for name, value in counts.items()
        if name.startswith(LANGUAGE_PREFIX) and value
    ]
    return dict(sorted(found, key=lambda item: (-item[1], item[0])))
