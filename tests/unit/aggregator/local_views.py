"""Answers of one aggregator worker holding every partition, for the unit tests.

The service's views gather rows from every worker (:mod:`moodstream_aggregator.scatter`);
a unit test runs one in-process worker, so it reads its own table directly.
"""

from __future__ import annotations

from typing import Any

from moodstream_aggregator.contributions import empty_counts
from moodstream_aggregator.keys import tag_window
from moodstream_aggregator.kinds import MINUTE, RowKind, series_kind
from moodstream_aggregator.queries import (
    counter_from,
    hashtag_series_from,
    local_rows,
    series_from,
    top_from,
    watermark_from,
    window_starts,
)


def counts(kind: str, key: str) -> dict[str, float]:
    """A sentiment row summed over this worker's partitions."""
    return local_rows(kind, [key]).get(key) or empty_counts()


def watermark() -> float:
    """Newest event time this worker has seen."""
    return watermark_from(local_rows(RowKind.WATERMARK, ["all"]))


def late_count() -> int:
    """Records that arrived after their window's grace period (still counted)."""
    return counter_from(local_rows(RowKind.LATE, ["all"]), RowKind.LATE)


def expired_count() -> int:
    """Events not applied because their message was older than the message retention."""
    return counter_from(local_rows(RowKind.EXPIRED, ["all"]), RowKind.EXPIRED)


def series(size: int, last: int, until: float | None = None) -> dict[str, Any]:
    """The ``last`` windows of ``size`` seconds ending at ``until`` (default: watermark)."""
    end = until if until is not None else watermark()
    starts = window_starts(size, last, end)
    return series_from(size, starts, local_rows(series_kind(size), map(str, starts)), end)


def hashtag_series(tag: str, last: int) -> dict[str, Any]:
    """One hashtag's last ``last`` minutes up to the watermark, as the view shapes them."""
    end = watermark()
    starts = window_starts(MINUTE, last, end)
    rows = local_rows(RowKind.HASHTAG_SERIES, [tag_window(start, tag) for start in starts])
    return hashtag_series_from(tag, starts, rows, end)


def top_hashtags_minute(minute: int, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most used hashtags in the minute starting at ``minute``."""
    rows = local_rows(RowKind.HASHTAG_MINUTE, [str(minute)])
    return top_from(dict(rows.get(str(minute), {})), limit)

