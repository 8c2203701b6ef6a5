"""Ingest's input-topic door.

Reads: ``events`` (JSON bytes from any Kafka producer, e.g. kcat).
Writes: ``raw`` (normalized :class:`RawMessage`, keyed by message id) and
``dead-letters`` (anything that could not be accepted, with the reason and bytes).

The door reads with a plain aiokafka consumer in batches, not a Faust agent
(:mod:`moodstream_common.input_batches` says why): a Faust agent held it to 0.6× the
HTTP door on the same validation (``bench.ingest_throughput``). Offsets are committed
only after the batch's records are in the broker: at least once, and a batch read
again is absorbed downstream, where aggregates are idempotent per message id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sized
from typing import TypeVar

from opentelemetry import trace

from moodstream_common.backoff import retrying
from moodstream_common.input_batches import Batch, InputBatches
from moodstream_common.tracing import record_links, tracer
from moodstream_ingest.app import app, events_topic, settings
from moodstream_ingest.intake import (
    BrokerUnavailable,
    Outcome,
    Validated,
    deliver,
    item_from_body,
    validate,
)

Batched = TypeVar("Batched", bound=Sized)
SOURCE = f"topic:{events_topic.get_topic_name()}"
log = logging.getLogger("moodstream.ingest.topic")


def events_group() -> str:
    """The consumer group of the input-topic door."""
    return settings.broker.input_group("ingest")


def faust_era_group() -> str:
    """The group that read ``events`` when the door was a Faust agent (the app's own)."""
    return settings.broker.app_id("ingest")


async def accept_until_taken(
    batch: Batched,
    *,
    accept_batch: Callable[[Batched], Awaitable[list[Outcome]]],
    delays: Iterator[float] | None = None,
) -> list[Outcome]:
    """``accept_batch(batch)``, again with backoff for as long as the broker is away.

    The HTTP door answers 503 and lets the client retry; the topic door has no client
    to ask, and must not give up on a batch: its offsets would be committed with the
    next batch's without the records reaching ``raw``. A retried batch may land twice;
    downstream is idempotent per message id.
    """
    return await retrying(
        lambda: accept_batch(batch),
        retry_on=(BrokerUnavailable,),
        log=log,
        failed=lambda exc: f"{exc}; holding the batch of {len(batch)}",
        delays=delays,
    )


@app.task  # type: ignore[untyped-decorator]  # Faust leaves its decorators untyped
async def intake_events() -> None:
    """Normalize input events in batches into ``raw`` or dead letters, until stopped."""
    await events_topic.maybe_declare()
    await InputBatches(
        settings.broker,
        events_topic.get_topic_name(),
        group=events_group(),
        carry_from=faust_era_group(),
        prepare=_items,
        publish=_accept_items,
        max_records=settings.topic_batch_size,
        wait_seconds=settings.topic_batch_wait_seconds,
    ).run()


async def _items(records: Batch) -> tuple[Validated, list[trace.Link]]:
    """One fetched batch validated (its languages being detected meanwhile), and links
    to the spans that produced its records."""
    items = [item_from_body(record.value or b"") for record in records]
    return validate(items, source=SOURCE), record_links(records)


async def _accept_items(prepared: tuple[Validated, list[trace.Link]]) -> None:
    """Deliver one batch; returns once ``raw`` and dead letters have all of it."""
    validated, links = prepared
    with tracer().start_as_current_span("moodstream.ingest.topic", links=links):
        await accept_until_taken(validated, accept_batch=deliver)
