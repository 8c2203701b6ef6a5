"""What one message adds to the aggregates, and how to apply or retract it.

Pure functions, no Faust: the aggregator keeps each message's current
:class:`Contribution` in a table, and on every event applies ``new - old``. A
redelivered event has ``new == old`` and changes nothing, which is what makes the
aggregates idempotent under at-least-once delivery and replay.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from moodstream_aggregator.keys import tag_window
from moodstream_aggregator.kinds import MINUTE, SECOND, RowKind
from moodstream_common.records import EVENT_UPDATE, LABELS, ScoredMessage


@dataclass(frozen=True)
class Contribution:
    """The part of a message that the aggregates count."""

    label: str
    score: float
    event_time: float
    user_id: str | None = None
    hashtags: tuple[str, ...] = field(default_factory=tuple)
    model_version: str = ""

    def to_json(self) -> dict[str, Any]:
        """Table value form."""
        data = asdict(self)
        data["hashtags"] = list(self.hashtags)
        return data

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
        )


def contribution_of(record: ScoredMessage) -> Contribution | None:
    """The contribution ``record`` makes: ``None`` for a delete or an unscored update."""
    if record.type != EVENT_UPDATE or record.label not in LABELS:
        return None
    return Contribution(
        label=record.label,
        score=round(float(record.score), 6),
        event_time=float(record.event_time),
        user_id=record.user_id,
        hashtags=tuple(sorted(set(record.hashtags))),
        model_version=record.model_version,
    )


def window_start(event_time: float, size: int) -> int:
    """Start (epoch seconds) of the ``size``-second tumbling window holding ``event_time``."""
    return int(event_time // size) * size


@dataclass(frozen=True)
class Delta:
    """A signed change to one aggregate row: ``sign`` is +1 (apply) or -1 (retract)."""

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
    return {"positive": 0, "neutral": 0, "negative": 0, "score_sum": 0.0}


def apply_delta(counts: dict[str, float] | None, delta: Delta) -> dict[str, float]:
    """``counts`` with ``delta`` applied (a new dict; table values must be reassigned).

    Returns ``{}`` when a hashtag row has nothing left, so the caller can delete it.
    """
    if delta.tag is not None:
        tags = dict(counts or {})
        remaining = tags.get(delta.tag, 0) + delta.sign
        if remaining > 0:
            tags[delta.tag] = remaining
        else:
            tags.pop(delta.tag, None)
        return tags
    updated = dict(counts or empty_counts())
    label = delta.contribution.label
    updated[label] = updated.get(label, 0) + delta.sign
    updated["score_sum"] = round(
        updated.get("score_sum", 0.0) + delta.sign * delta.contribution.score, 6
    )
    return updated


def summarize(counts: dict[str, float] | None) -> dict[str, Any]:
    """Chart-ready form: label counts, total and mean score."""
    counts = counts or empty_counts()
    total = int(sum(counts.get(label, 0) for label in LABELS))
    mean = counts.get("score_sum", 0.0) / total if total else 0.0
    return {
        **{label: int(counts.get(label, 0)) for label in LABELS},
        "total": total,
        "mean_score": round(mean, 4),
    }
