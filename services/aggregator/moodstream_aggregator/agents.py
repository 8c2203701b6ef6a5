"""Aggregator agents.

Reads: ``scored`` (:class:`ScoredMessage`, keyed by message id).
Writes: the ``aggregates`` table (RocksDB + changelog) and, every
``publish_interval_seconds``, snapshots of changed rows to ``aggregates`` (topic),
followed by a request to check the alert rules (:mod:`moodstream_aggregator.alerts`).

Only the single ``aggregate`` agent (concurrency 1) writes the table, a batch at a
time, so the read-modify-write in :class:`~moodstream_aggregator.aggregation.Aggregation`
cannot interleave.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import httpx
from faust import StreamT

from moodstream_aggregator import alerts, queries, resume, scatter, tables
from moodstream_aggregator.aggregation import Aggregation, AggregationSettings
from moodstream_aggregator.app import aggregates_topic, app, scored_topic, settings
from moodstream_aggregator.contributions import empty_counts, summarize
from moodstream_aggregator.keys import window_of
from moodstream_aggregator.kinds import RowKind
from moodstream_common.metrics import MESSAGES_IN
from moodstream_common.records import AggregateUpdate, ScoredMessage
from moodstream_common.tracing import extract_context, tracer

log = logging.getLogger("moodstream.aggregator")

# Records applied between two returns to the event loop: a batch of 1,000 takes a few
# hundred ms of CPU, and the views, heartbeats and fetches must not wait that long.
YIELD_EVERY = 50

# Changelog records a table write may leave pending before the next scored record
# waits for them. Faust's default, 100, is below what one batch writes (about 1.7 a
# record, bench.aggregator_throughput): every record read after a batch then waited for
# sends one at a time (0.1 s timeouts) and logged "producer buffer full". A batch's
# writes are bounded by the batch size, so this bounds the buffer as tightly.
CHANGELOG_BUFFER_PER_RECORD = 16

aggregation = Aggregation(tables.aggregate_reads, AggregationSettings.of(settings))
resume.install(app, scored_topic.get_topic_name(), aggregation.applied_offset)


@app.agent(scored_topic, concurrency=1)
async def aggregate(stream: StreamT[ScoredMessage]) -> AsyncIterator[int]:
    """Apply scored records to the table a batch at a time; yields rows-changed counts."""
    app.producer.buffer.max_messages = CHANGELOG_BUFFER_PER_RECORD * settings.batch_size
    async for events in stream.take_events(  # type: ignore[attr-defined]  # Stream has it; StreamT lacks it
        settings.batch_size, within=settings.batch_within_seconds
    ):
        changed = 0
        spans = tracer()
        last_event_of = {}  # partition -> an event of it, to write that partition as
        for index, event in enumerate(events, start=1):
            if index % YIELD_EVERY == 0:
                # Safe mid-batch: nothing is in the table yet, and a rebalance waits
                # for the batch's events (unacknowledged until we resume take_events).
                await asyncio.sleep(0)
            message = event.message
            last_event_of[message.partition] = event
            # Not made the current span: attaching and detaching a context per record
            # cost more than the span itself.
            span = spans.start_span(
                "moodstream.aggregator.apply",
                context=extract_context(message.headers),
                attributes={"moodstream.message_id": event.value.id},
            )
            try:
                applied = aggregation.apply(event.value, message.partition, message.offset)
                span.set_attribute("moodstream.changed", applied)
            except BaseException as exc:
                span.record_exception(exc)
                raise
            finally:
                span.end()
            changed += applied
        # Written before the batch is acknowledged: take_events acks it when we resume.
        for partition, writes in aggregation.drain().items():
            tables.write_as(last_event_of[partition], writes)
        for partition, event in last_event_of.items():
            expired = aggregation.expired_keys(partition)
            if expired:
                tables.write_as(event, ((key, None) for key in expired))
        MESSAGES_IN.labels("aggregator", scored_topic.get_topic_name()).inc(len(events))
        yield changed


@app.timer(interval=settings.publish_interval_seconds)  # type: ignore[untyped-decorator]  # Faust leaves its decorators untyped
async def publish_changes() -> None:
    """Publish every row changed since the last tick to the ``aggregates`` topic.

    The value is the full answer (summed over every worker, as the HTTP views give it),
    so a downstream consumer keeps the latest record per key and needs nothing else.
    """
    dirty = aggregation.dirty
    if not dirty:
        return
    changed = list(dirty)
    dirty.clear()
    now = time.time()
    for index, (kind, key) in enumerate(changed):
        try:
            rows = await scatter.rows(kind, [key])
        except httpx.HTTPError as exc:
            # A peer that was killed stays in the assignment until its session times out
            # (seconds on Kafka). Raising here crashed this worker too; the rows wait for
            # the next tick instead, by when the group has moved the peer's partitions.
            dirty.update(changed[index:])
            log.warning("a peer aggregator did not answer (%r): %d changed rows are "
                        "published at the next tick", exc, len(changed) - index)
            return
        if kind == RowKind.HASHTAG_MINUTE:
            value: dict[str, object] = {"top": queries.top_from(rows.get(key, {}), 5)}
        else:
            value = dict(summarize(rows.get(key) or empty_counts()))
        window = float(window_of(key)) if kind.window_seconds else None
        await aggregates_topic.send(
            key=f"{kind}|{key}",
            value=AggregateUpdate(
                kind=kind, key=key, value=value, window_start=window, updated_at=now
            ),
        )
    await alerts.request_check()
