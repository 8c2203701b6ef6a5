"""Read side: sum partial rows into the shapes the HTTP views and charts use.

Rows are partial per source partition. :func:`local_rows` sums the partitions this
worker holds (all of them, or only its active ones when other workers hold the rest);
:mod:`moodstream_aggregator.scatter` merges the answers of every worker. The shaping
functions (``*_from``) are pure, so a view answers the same on whichever worker.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moodstream_aggregator import tables
from moodstream_aggregator.contributions import empty_counts, summarize
from moodstream_aggregator.keys import (
    MESSAGE_PREFIX,
    PARTITIONS,
    partition_of,
    row_key,
    window_of,
)
from moodstream_aggregator.kinds import MINUTE, RowKind
from moodstream_common.records import LANGUAGE_UNDETERMINED, UNSCORED

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
            row = tables.aggregate_reads.get_in(partition, row_key(kind, partition, key))
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


@dataclass(frozen=True)
class FeedQuery:
    """Which messages a feed page holds: filters, the page size, and where it starts
    (``before``: the ``(event_time, id)`` of the previous page's last message)."""

    label: str | None = None
    hashtag: str | None = None
    user_id: str | None = None
    limit: int = 50
    before: tuple[float, str] | None = None

    def params(self) -> dict[str, str]:
        """The query as ``/internal/feed`` parameters (the public view's, plus the limit)."""
        found = {"label": self.label, "hashtag": self.hashtag, "user_id": self.user_id}
        params = {name: value for name, value in found.items() if value}
        params["limit"] = str(self.limit)
        if self.before is not None:
            params["cursor"] = feed_cursor(self.before)
        return params


def local_feed(query: FeedQuery, partitions: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """The newest live messages of this worker's partitions that ``query`` selects.

    A scan of the message states: retention bounds them, and a feed is asked for about
    once a second per dashboard.
    """
    wanted = set(range(PARTITIONS) if partitions is None else partitions)
    states = (
        (key[len(MESSAGE_PREFIX) :], state)
        for key, state in tables.aggregates.items()
        if key.startswith(MESSAGE_PREFIX)
    )
    return feed_from(
        ((message_id, state) for message_id, state in states if partition_of(message_id) in wanted),
        query,
    )


def feed_from(
    states: Iterable[tuple[str, dict[str, Any]]], query: FeedQuery
) -> list[dict[str, Any]]:
    """Feed entries, newest first (ties by id), of the live messages ``query`` selects."""
    entries = []
    for message_id, state in states:
        current = (state or {}).get("current")
        if not current or state.get("deleted"):
            continue
        if query.label and current.get("label") != query.label:
            continue
        if query.hashtag and query.hashtag not in (current.get("hashtags") or ()):
            continue
        if query.user_id and current.get("user_id") != query.user_id:
            continue
        event_time = float(current.get("event_time", 0.0))
        if query.before is not None and (event_time, message_id) >= query.before:
            continue
        entries.append(feed_entry(message_id, state))
    return newest_first(entries, query.limit)


def feed_entry(message_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """One message as the feed shows it (its state's current contribution and text)."""
    current = state["current"]
    return {
        "id": message_id,
        "user_id": current.get("user_id"),
        "text": state.get("text") or "",
        "label": current.get("label"),
        "score": current.get("score"),
        "event_time": float(current.get("event_time", 0.0)),
        "hashtags": list(current.get("hashtags") or ()),
        "language": current.get("language", LANGUAGE_UNDETERMINED),
        "model_version": current.get("model_version", ""),
    }


def newest_first(entries: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` newest feed entries, by event time then id, newest first.

    A heap, not a sort: a worker's feed scans every message state it holds, and a
    page keeps only ``limit`` of them.
    """
    return heapq.nlargest(limit, entries, key=lambda e: (e["event_time"], e["id"]))


def feed_page(entries: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """A feed answer: the entries (event times as ISO-8601 too) and the next page's cursor
    (``None`` when this page is the last)."""
    page = newest_first(entries, limit)
    last = page[-1] if len(page) == limit else None
    return {
        "messages": [{**entry, "event_time_iso": iso(entry["event_time"])} for entry in page],
        "next": feed_cursor((last["event_time"], last["id"])) if last else None,
    }


def feed_cursor(position: tuple[float, str]) -> str:
    """An opaque cursor for the page after ``(event_time, id)``."""
    raw = json.dumps([position[0], position[1]], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def parse_feed_cursor(cursor: str) -> tuple[float, str]:
    """Inverse of :func:`feed_cursor`; ``ValueError`` for anything it did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        event_time, message_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError("cursor: not one this feed gave out") from exc
    if not isinstance(event_time, int | float) or not isinstance(message_id, str):
        raise ValueError("cursor: not one this feed gave out")
    return float(event_time), message_id


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


def languages_from(rows: Rows) -> list[dict[str, Any]]:
    """Every language with messages: its sentiment mix and unscored share, most first."""
    ranked = []
    for language, row in rows.items():
        summary = summarize(row)
        del summary["languages"]  # a language row's breakdown is itself
        if summary["total"] > 0:
            share = round(summary[UNSCORED] / summary["total"], 4)
            ranked.append({"language": language, **summary, "unscored_share": share})
    return sorted(ranked, key=lambda item: (-item["total"], item["language"]))


def local_alert_states(partitions: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Every rule's stored episode state on this worker: ``[{"rule", **state}]``.

    The ``alerts`` table has one partition, so this worker's answer is all of it (when
    it actively holds partition 0, or ``partitions`` is ``None``) or nothing.
    """
    if partitions is not None and 0 not in set(partitions):
        return []
    return [{"rule": rule, **state} for rule, state in tables.alerts.items() if state]


def alerts_from(
    states: Iterable[dict[str, Any]], rules: Iterable[str], recent: int
) -> dict[str, Any]:
    """``{"active": [...], "recent": [...]}`` for the configured ``rules``: active alerts
    (newest first) and the ``recent`` newest resolved ones, each with ISO times added."""
    configured = set(rules)
    active: list[dict[str, Any]] = []
    resolved: list[dict[str, Any]] = []
    for state in states:
        if state.get("rule") not in configured:
            continue  # a rule since removed from the file
        if state.get("active"):
            active.append(state["active"])
        resolved.extend(state.get("recent") or ())
    return {
        "active": _newest(active, "started_at"),
        "recent": _newest(resolved, "ended_at")[:recent],
    }


def _newest(alerts: list[dict[str, Any]], time: str) -> list[dict[str, Any]]:
    ordered = sorted(alerts, key=lambda alert: (alert.get(time) or 0.0, alert["id"]), reverse=True)
    return [
        {**alert, **{f"{name}_iso": iso(alert[name]) for name in TIMES if alert.get(name)}}
        for alert in ordered
    ]


TIMES = ("started_at", "ended_at")


def watermark_from(rows: Rows) -> float:
    """Newest event time in a ``watermark`` answer (0 when nothing was seen)."""
    return float(rows.get("all", {}).get("event_time", 0.0))


def minute_of(epoch: float) -> int:
    """Start of the minute holding ``epoch``."""
    return int(epoch // MINUTE) * MINUTE


def counter_from(rows: Rows, kind: str) -> int:
    """The value of a counter row (``late``, ``expired``) from a ``{"all": row}`` answer."""
    return int(rows.get("all", {}).get(kind, 0))
