"""Aggregator agents.

Reads: ``scored`` (:class:`ScoredMessage`, keyed by message id).
Writes: tables ``messages`` and ``aggregates`` (RocksDB + changelogs) and, every
``publish_interval_seconds``, snapshots of changed rows to ``aggregates`` (topic).

Only the single ``aggregate`` agent (concurrency 1) writes tables, so the per-message
read-modify-write in :func:`apply_record` cannot interleave.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator

from faust import StreamT

from moodstream_aggregator import queries, scatter, tables
from moodstream_aggregator.app import aggregates_topic, app, scored_topic, settings
from moodstream_aggregator.contributions import (
    MINUTE,
    Contribution,
    Delta,
    apply_delta,
    contribution_of,
    deltas,
    empty_counts,
    summarize,
    window_start,
)
from moodstream_aggregator.retention import RetentionIndex
from moodstream_aggregator.tables import OFFSET
from moodstream_common.metrics import MESSAGES_IN
from moodstream_common.records import EVENT_DELETE, AggregateUpdate, ScoredMessage
from moodstream_common.tracing import extract_context, tracer

log = logging.getLogger("moodstream.aggregator")

# (kind, key) rows changed since the last publish; in memory only, since a lost
# publish is repaired by the next change or replay.
_dirty: set[tuple[str, str]] = set()
_retention = RetentionIndex(
    second_retention=settings.second_windows_retained,
    minute_retention=settings.minute_windows_retained * MINUTE,
    message_retention=settings.message_retention_seconds,
)
_last_expiry: dict[int, float] = defaultdict(float)


def apply_record(record: ScoredMessage, partition: int, offset: int) -> bool:
    """Apply one scored record (at ``offset`` of ``partition``); True if rows changed.

    The record replaces the message's earlier contribution (update), retracts it
    (delete), or changes nothing (the same content again, at any offset). Exactly once
    per row even after a crash: every row and the message state carry the offset of
    the last event applied to them, rows are written before the message state, and all
    of them go to one changelog partition (see :mod:`moodstream_aggregator.tables`).
    A redelivered event whose message state survived is complete; otherwise only the
    rows that do not yet carry its offset get its change.
    """
    key = tables.message_key(record.id)
    stored = tables.aggregates.get(key) or {}
    if stored.get(OFFSET, -1) >= offset:
        return False  # this event (or a later one of this message) is fully applied
    if not stored and _beyond_retention(record.event_time, partition):
        # Its state may have expired after it was counted: applying it again could
        # count it twice, so it is refused and counted as expired instead.
        _count(partition, "expired", offset)
        return False
    old = _contribution(stored.get("current"))
    deleted = record.type == EVENT_DELETE
    new = None if deleted else contribution_of(record)
    if stored and new == old and deleted == bool(stored.get("deleted")):
        return False  # the same content again: a duplicate or a replay
    # One write per row: an update may retract and add on the same row (its total).
    by_row: dict[tuple[str, str], list[Delta]] = {}
    for delta in deltas(old, new):
        by_row.setdefault((delta.kind, delta.key), []).append(delta)
    changed = False
    for (kind, row_id), row_deltas in by_row.items():
        row_key = tables.row_key(kind, partition, row_id)
        row = tables.aggregates.get(row_key)
        if row and row.get(OFFSET, -1) >= offset:
            continue  # written before a crash; the rest of this event was not
        updated = {k: v for k, v in (row or {}).items() if k != OFFSET}
        for delta in row_deltas:
            updated = apply_delta(updated, delta)
        updated[OFFSET] = offset
        tables.aggregates[row_key] = updated
        _dirty.add((kind, row_id))
        _retention.note_row(partition, kind, row_id)
        changed = True
    if new is not None:
        _track_event_time(new.event_time, record.received_at, partition, offset)
    tables.aggregates[key] = {
        "current": new.to_json() if new else None,
        "deleted": deleted,
        "deleted_at": record.event_time if deleted else None,
        OFFSET: offset,
    }
    _retention.note_message(partition, record.id, (new or old or record).event_time)
    return changed


def _contribution(data: dict[str, object] | None) -> Contribution | None:
    return Contribution.from_json(data) if data else None


def _beyond_retention(event_time: float, partition: int) -> bool:
    """True when a message of ``event_time`` is older than the message retention.

    The same horizon as :func:`expire` uses, so a message whose state expired is
    always beyond it when it comes again.
    """
    return event_time < _watermark(partition) - settings.message_retention_seconds


def _watermark(partition: int) -> float:
    mark = tables.aggregates.get(tables.row_key("watermark", partition, "all")) or {}
    return float(mark.get("event_time", 0.0))


def watermark_candidate(event_time: float, received_at: float) -> float:
    """How far one record may move the watermark: its event time, but never more
    than ``watermark_max_ahead_seconds`` past the time ingest received it.

    A sender's clock (or a hostile timestamp) a day ahead would otherwise move the
    watermark a day ahead, close every window at once and expire the state of recent
    messages, so their later updates and deletes could no longer retract them.
    ``received_at`` is ingest's clock, on the record, so a replay clamps the same way.
    """
    if received_at <= 0:
        return event_time
    return min(event_time, received_at + settings.watermark_max_ahead_seconds)


def _track_event_time(event_time: float, received_at: float, partition: int, offset: int) -> None:
    """Advance the partition's watermark; count the record as late if its window closed."""
    mark = _watermark(partition)
    candidate = watermark_candidate(event_time, received_at)
    if candidate > mark:
        mark_key = tables.row_key("watermark", partition, "all")
        tables.aggregates[mark_key] = {"event_time": candidate}
    elif window_start(event_time, MINUTE) + MINUTE + settings.grace_seconds < mark:
        _count(partition, "late", offset)


def _count(partition: int, kind: str, offset: int) -> None:
    """Add one to ``partition``'s ``kind`` counter row (``late``, ``expired``), once per offset."""
    key = tables.row_key(kind, partition, "all")
    row = tables.aggregates.get(key) or {}
    if row.get(OFFSET, -1) < offset:
        tables.aggregates[key] = {kind: row.get(kind, 0) + 1, OFFSET: offset}


def expire(partition: int) -> int:
    """Delete ``partition``'s windows and messages past retention; returns rows deleted.

    Runs inside the agent (tables can only change while processing an event of the
    partition whose changelog records the change), at most every
    ``expiry_interval_seconds`` per partition.
    """
    now = time.monotonic()
    if now - _last_expiry[partition] < settings.expiry_interval_seconds:
        return 0
    _last_expiry[partition] = now
    if not _retention.scanned:
        rows, messages = [], []
        for key, state in tables.aggregates.items():
            if key.startswith(tables.MESSAGE_PREFIX):
                message_id = key[len(tables.MESSAGE_PREFIX) :]
                messages.append((message_id, tables.partition_of(message_id), _time_of(state)))
            else:
                rows.append(key)
        _retention.scan(rows, messages)
    mark = _watermark(partition)
    deleted = 0
    for kind, start in _retention.expired_rows(partition, mark):
        key = tables.row_key(kind, partition, str(start))
        if key in tables.aggregates:
            del tables.aggregates[key]
            deleted += 1
    for message_id in _retention.expired_messages(partition, mark):
        key = tables.message_key(message_id)
        state = tables.aggregates.get(key)
        # Only if it was not updated to a newer time since it was indexed.
        if state is not None and _time_of(state) < mark - settings.message_retention_seconds:
            del tables.aggregates[key]
            deleted += 1
    return deleted


def _time_of(state: dict[str, object] | None) -> float:
    state = state or {}
    current = state.get("current")
    value = current.get("event_time") if isinstance(current, dict) else state.get("deleted_at")
    return float(value) if isinstance(value, int | float) else 0.0


@app.agent(scored_topic, concurrency=1)
async def aggregate(stream: StreamT[ScoredMessage]) -> AsyncIterator[bool]:
    """Apply each scored record to the tables; yields whether aggregates changed."""
    async for event in stream.events():
        record: ScoredMessage = event.value
        MESSAGES_IN.labels("aggregator", event.message.topic).inc()
        parent = extract_context(event.message.headers)
        with tracer().start_as_current_span("moodstream.aggregator.apply", context=parent) as span:
            span.set_attribute("moodstream.message_id", record.id)
            changed = apply_record(record, event.message.partition, event.message.offset)
            span.set_attribute("moodstream.changed", changed)
        expire(event.message.partition)
        yield changed


@app.timer(interval=settings.publish_interval_seconds)
async def publish_changes() -> None:
    """Publish every row changed since the last tick to the ``aggregates`` topic.

    The value is the full answer (summed over every worker, as the HTTP views give it),
    so a downstream consumer keeps the latest record per key and needs nothing else.
    """
    if not _dirty:
        return
    changed = list(_dirty)
    _dirty.clear()
    now = time.time()
    for kind, key in changed:
        rows = await scatter.rows(kind, [key])
        if kind == "hashtag_minute":
            value: dict[str, object] = {"top": queries.top_from(rows.get(key, {}), 5)}
        else:
            value = dict(summarize(rows.get(key) or empty_counts()))
        window = float(key) if kind in ("second", "minute", "hashtag_minute") else None
        await aggregates_topic.send(
            key=f"{kind}|{key}",
            value=AggregateUpdate(
                kind=kind, key=key, value=value, window_start=window, updated_at=now
            ),
        )
