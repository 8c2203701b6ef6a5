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
    apply_delta,
    contribution_of,
    deltas,
    empty_counts,
    summarize,
    window_start,
)
from moodstream_aggregator.retention import RetentionIndex
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


def apply_record(record: ScoredMessage, partition: int) -> bool:
    """Apply one scored record to the tables; True if any aggregate changed.

    The record replaces the message's earlier contribution (update), retracts it
    (delete), or changes nothing (the same content delivered again).
    """
    stored = tables.messages.get(record.id)
    old = Contribution.from_json(stored) if stored and "label" in stored else None
    new = contribution_of(record)
    if record.type == EVENT_DELETE:
        tables.messages[record.id] = {"deleted": True, "deleted_at": record.event_time}
        _retention.note_message(partition, record.id, old.event_time if old else record.event_time)
    elif new is not None and new != old:
        tables.messages[record.id] = new.to_json()
        _retention.note_message(partition, record.id, new.event_time)
    changed = False
    for delta in deltas(old, new):
        key = tables.row_key(delta.kind, partition, delta.key)
        updated = apply_delta(tables.aggregates.get(key), delta)
        if updated:
            tables.aggregates[key] = updated
        elif key in tables.aggregates:
            del tables.aggregates[key]
        _dirty.add((delta.kind, delta.key))
        _retention.note_row(partition, delta.kind, delta.key)
        changed = True
    if new is not None and new != old:
        _track_event_time(new.event_time, partition)
    return changed


def _track_event_time(event_time: float, partition: int) -> None:
    """Advance the partition's watermark; count the record as late if its window closed."""
    mark_key = tables.row_key("watermark", partition, "all")
    mark = (tables.aggregates.get(mark_key) or {}).get("event_time", 0.0)
    if event_time > mark:
        tables.aggregates[mark_key] = {"event_time": event_time}
    elif window_start(event_time, MINUTE) + MINUTE + settings.grace_seconds < mark:
        late_key = tables.row_key("late", partition, "all")
        late = (tables.aggregates.get(late_key) or {}).get("late", 0)
        tables.aggregates[late_key] = {"late": late + 1}


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
        _retention.scan(
            (key for key in tables.aggregates.keys()),
            (
                (message_id, tables.partition_of(message_id), _time_of(state))
                for message_id, state in tables.messages.items()
                if state
            ),
        )
    mark = (tables.aggregates.get(tables.row_key("watermark", partition, "all")) or {}).get(
        "event_time", 0.0
    )
    deleted = 0
    for kind, start in _retention.expired_rows(partition, mark):
        key = tables.row_key(kind, partition, str(start))
        if key in tables.aggregates:
            del tables.aggregates[key]
            deleted += 1
    for message_id in _retention.expired_messages(partition, mark):
        state = tables.messages.get(message_id)
        # Only if it was not updated to a newer time since it was indexed.
        if state is not None and _time_of(state) < mark - settings.message_retention_seconds:
            del tables.messages[message_id]
            deleted += 1
    return deleted


def _time_of(state: dict[str, object]) -> float:
    value = state.get("event_time", state.get("deleted_at", 0.0))
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
            changed = apply_record(record, event.message.partition)
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
