"""Read side: sum partial rows into the shapes the HTTP views and charts use."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from moodstream_aggregator import tables
from moodstream_aggregator.contributions import MINUTE, SECOND, empty_counts, summarize


def iso(epoch_seconds: float) -> str:
    """UTC ISO-8601 form of an epoch time, as used in every view."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).isoformat().replace("+00:00", "Z")


def counts(kind: str, key: str) -> dict[str, float]:
    """A sentiment row summed over partitions."""
    total = empty_counts()
    for row in tables.partials(kind, key):
        for name, value in row.items():
            total[name] = total.get(name, 0) + value
    return total


def watermark() -> float:
    """Newest event time seen (max over partitions), 0 when nothing was seen."""
    marks = [row.get("event_time", 0.0) for row in tables.partials("watermark", "all")]
    return max(marks, default=0.0)


def late_count() -> int:
    """Records that arrived after their window's grace period (still counted)."""
    return int(sum(row.get("late", 0) for row in tables.partials("late", "all")))


def series(size: int, last: int, until: float | None = None) -> dict[str, Any]:
    """The ``last`` windows of ``size`` seconds ending at ``until`` (default: watermark).

    Answer: per-window rows plus a chart-ready ``series`` of
    ``[window_start_iso, positive, neutral, negative, mean_score]``.
    """
    kind = "second" if size == SECOND else "minute"
    end = until if until is not None else watermark()
    newest = int(end // size) * size
    windows = []
    for start in range(newest - (last - 1) * size, newest + size, size):
        row = summarize(counts(kind, str(start)))
        windows.append({"window_start": iso(start), **row})
    return {
        "window_seconds": size,
        "until": iso(end) if end else None,
        "windows": windows,
        "series": [
            [w["window_start"], w["positive"], w["neutral"], w["negative"], w["mean_score"]]
            for w in windows
        ],
    }


def top_hashtags_minute(minute: int, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most used hashtags in the minute starting at ``minute``."""
    total: Counter[str] = Counter()
    for row in tables.partials("hashtag_minute", str(minute)):
        total.update(row)
    return [{"hashtag": tag, "count": count} for tag, count in total.most_common(limit)]


def hashtags_overall(limit: int | None = None) -> list[dict[str, Any]]:
    """Every hashtag with its count and sentiment mix, most used first (scans the table)."""
    total: dict[str, dict[str, float]] = {}
    for key, row in tables.aggregates.items():
        kind, _, tag = key.split("|", 2)
        if kind != "hashtag" or not row:
            continue
        merged = total.setdefault(tag, empty_counts())
        for name, value in row.items():
            merged[name] = merged.get(name, 0) + value
    ranked = sorted(
        ({"hashtag": tag, **summarize(row)} for tag, row in total.items()),
        key=lambda item: (-item["total"], item["hashtag"]),
    )
    return ranked[:limit] if limit else ranked


def minute_of(epoch: float) -> int:
    """Start of the minute holding ``epoch``."""
    return int(epoch // MINUTE) * MINUTE
