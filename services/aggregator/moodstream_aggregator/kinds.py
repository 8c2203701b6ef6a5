"""The kinds of row in the aggregator's table: one definition, with their window sizes.

A row's key starts with its kind (:func:`moodstream_aggregator.keys.row_key`), so
these values are part of the stored layout and of ``/internal/rows``: renaming one is a
migration. ``RowKind`` is a ``StrEnum``, so a member is the string it names.
"""

from __future__ import annotations

from enum import StrEnum

SECOND = 1  # seconds in a per-second window
MINUTE = 60  # seconds in a per-minute window


class RowKind(StrEnum):
    """Every kind of row the aggregator keeps."""

    TOTAL = "total"  # one row: every message counted
    SECOND = "second"  # one row per 1 s window of event time
    MINUTE = "minute"  # one row per 60 s window of event time
    USER = "user"  # one row per user id
    HASHTAG = "hashtag"  # one row per hashtag, all time
    HASHTAG_MINUTE = "hashtag_minute"  # one row per minute: hashtag -> messages
    HASHTAG_SERIES = "hashtag_series"  # one row per (minute, hashtag): its sentiment counts
    LANGUAGE = "language"  # one row per language (ISO 639-1 or "und"), all time
    WATERMARK = "watermark"  # per partition: newest event time seen
    LATE = "late"  # per partition: events dropped as too late
    EXPIRED = "expired"  # per partition: events of windows already past retention
    APPLIED = "applied"  # per partition: the newest source offset fully in the table

    @property
    def window_seconds(self) -> int | None:
        """Width of this kind's event-time windows; ``None`` for a kind without windows."""
        return _WINDOW_SECONDS.get(self)

    @property
    def published(self) -> bool:
        """Whether a change to a row of this kind goes to the ``aggregates`` topic."""
        return self in PUBLISHED_KINDS


_WINDOW_SECONDS = {
    RowKind.SECOND: SECOND,
    RowKind.MINUTE: MINUTE,
    RowKind.HASHTAG_MINUTE: MINUTE,
    RowKind.HASHTAG_SERIES: MINUTE,
}
WINDOW_KINDS = frozenset(_WINDOW_SECONDS)
# The sentiment rows a message's contribution writes; the rest are bookkeeping.
PUBLISHED_KINDS = frozenset(
    {
        RowKind.TOTAL,
        RowKind.SECOND,
        RowKind.MINUTE,
        RowKind.USER,
        RowKind.HASHTAG,
        RowKind.HASHTAG_MINUTE,
        RowKind.HASHTAG_SERIES,
        RowKind.LANGUAGE,
    }
)


def series_kind(size: int) -> RowKind:
    """The kind whose rows hold the ``size``-second series (1 or 60)."""
    if size == SECOND:
        return RowKind.SECOND
    if size == MINUTE:
        return RowKind.MINUTE
    raise ValueError(f"no series of {size}-second windows: use {SECOND} or {MINUTE}")
