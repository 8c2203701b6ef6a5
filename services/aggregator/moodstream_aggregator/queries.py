"""Read side: sum partial rows into the shapes the HTTP views and charts use.

Rows are partial per source partition. :func:`local_rows` sums the partitions this
worker holds (all of them, or only its active ones when other workers hold the rest);
:mod:`moodstream_aggregator.scatter` merges the answers of every worker. The shaping
functions (``*_from``) are pure, so a view answers the same on whichever worker.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from moodstream_aggregator import tables
from moodstream_aggregator.contributions import empty_counts, summarize
from moodstream_aggregator.keys import PARTITIONS, row_key, window_of
from moodstream_aggregator.kinds import MINUTE, RowKind

Rows = dict[str, dict[str, float]]
ALL_KEYS = "*"  # with RowKind.HASHTAG: every hashtag (a table scan)


def iso(epoch_seconds: float) -> str:
    """UTC ISO-8601 form of an epoch time, as used in every view."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).isoformat().replace("+00:00", "Z")


def merge_row(into: dict[str, float], row: dict[str, float]) -> dict[str, float]:
    """Add ``row`` to ``into`` (times take the maximum, everything else adds up)."""
    for name, value in row.items():
        if name.startswith("~"):  # bookkeeping (the row's last applied offset)
            continue
        if name == "event_time":
            into[name] = max(into.get(name, 0.0), value)
        else:
            into[name] = into.get(name, 0) + value
    return into


def merge_rows(into: Rows, rows: Rows) -> Rows:
    """Merge two ``{key: row}`` answers (from two workers)."""
    for key, row in rows.items():
        merge_row(into.setdefault(key, {}), row)
    return into


def local_rows(kind: str, keys: Iterable[str], partitions: Iterable[int] | None = None) -> Rows:
    """``{key: row summed over partitions}`` from this worker's table."""
    wanted = set(range(PARTITIONS) if partitions is None else partitions)
    keys = list(keys)
    if kind == RowKind.HASHTAG and keys == [ALL_KEYS]:
        return _scan_hashtags(wanted)
    answer: Rows = {}
    for key in keys:
        for partition in sorted(wanted):
            row = tables.aggregates.get(row_key(kind, partition, key))
            if row:
                merge_row(answer.setdefault(key, {}), row)
    return answer


def _scan_hashtags(partitions: set[int]) -> Rows:
    answer: Rows = {}
    for key, row in tables.aggregates.items():
        parts = key.split("|", 2)
        if len(parts) != 3:
            continue
        kind, partition, tag = parts
        if kind == RowKind.HASHTAG and row and partition.isdigit() and int(partition) in partitions:
            merge_row(answer.setdefault(tag, {}), row)
    return answer


# -- shaping (pure) -------------------------------------------------------------------


def window_starts(size: int, last: int, end: float) -> list[int]:
    """Starts of the ``last`` windows of ``size`` seconds ending with the one holding ``end``."""
    newest = int(end // size) * size
    return list(range(newest - (last - 1) * size, newest + size, size))


def series_from(size: int, starts: list[int], rows: Rows, end: float) -> dict[str, Any]:
    """Per-window rows plus a chart-ready ``series`` of
    ``[window_start_iso, positive, neutral, negative, mean_score]``."""
    windows = [
        {"window_start": iso(start), **summarize(rows.get(str(start)) or empty_counts())}
        for start in starts
    ]
    return {
        "window_seconds": size,
        "until": iso(end) if end else None,
        "windows": windows,
        "series": [
            [w["window_start"], w["positive"], w["neutral"], w["negative"], w["mean_score"]]
            for w in windows
        ],
    }


def hashtag_series_from(tag: str, starts: list[int], rows: Rows, end: float) -> dict[str, Any]:
    """One hashtag's :func:`series_from` of minutes, from its ``HASHTAG_SERIES`` rows
    (keyed ``<start>|<tag>``)."""
    by_start = {str(window_of(row_id)): row for row_id, row in rows.items()}
    return {"hashtag": tag, **series_from(MINUTE, starts, by_start, end)}


def top_from(tag_counts: dict[str, float], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most used hashtags, most used first (ties by name)."""
    ranked = sorted(tag_counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"hashtag": tag, "count": int(count)} for tag, count in ranked[:limit]]


def hashtags_from(rows: Rows, limit: int | None) -> list[dict[str, Any]]:
    """Every hashtag with count and sentiment mix, most used first."""
    ranked = sorted(
        ({"hashtag": tag, **summarize(row)} for tag, row in rows.items()),
        key=lambda item: (-item["total"], item["hashtag"]),
    )
    ranked = [item for item in ranked if item["total"] > 0]
    return ranked[:limit] if limit else ranked


def watermark_from(rows: Rows) -> float:
    """Newest event time in a ``watermark`` answer (0 when nothing was seen)."""
    return float(rows.get("all", {}).get("event_time", 0.0))


def hashtag_of(text: str) -> str:
    """A hashtag as the analyzer stores it: NFC, case-folded, without a leading ``#``
    (``""`` when nothing is left). A tag the analyzer never keeps finds no rows."""
    return unicodedata.normalize("NFC", text.strip()).lstrip("#\uff03").casefold()


def minute_of(epoch: float) -> int:
    """Start of the minute holding ``epoch``."""
    return int(epoch // MINUTE) * MINUTE


def counter_from(rows: Rows, kind: str) -> int:
    """The value of a counter row (``late``, ``expired``) from a ``{"all": row}`` answer."""
    return int(rows.get("all", {}).get(kind, 0))
