"""Ingest agents.

Reads: ``events`` (JSON bytes from any Kafka producer, e.g. kcat).
Writes: ``raw`` (normalized :class:`RawMessage`, keyed by message id) and
``dead-letters`` (anything that could not be accepted, with the reason and bytes).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence

from faust import StreamT

from moodstream_common.backoff import retrying
from moodstream_common.tracing import batch_links, extract_context, tracer
from moodstream_ingest.app import app, events_topic, settings
from moodstream_ingest.intake import BrokerUnavailable, Item, Outcome, accept, item_from_body

SOURCE = f"topic:{events_topic.get_topic_name()}"
log = logging.getLogger("moodstream.ingest.topic")


async def accept_until_taken(
    items: Sequence[Item],
    *,
    accept_batch: Callable[[Sequence[Item]], Awaitable[list[Outcome]]],
    delays: Iterator[float] | None = None,
) -> list[Outcome]:
    """``accept_batch(items)``, again with backoff for as long as the broker is away.

    The HTTP door answers 503 and lets the client retry; the topic door has no client
    to ask, and must not let :class:`BrokerUnavailable` escape: Faust's
    ``take_events`` acknowledges a batch even when the agent raises, so the batch
    would be committed without reaching ``raw``. A retried batch may land twice;
    downstream is idempotent per message id.
    """
    return await retrying(
        lambda: accept_batch(items),
        retry_on=(BrokerUnavailable,),
        log=log,
        failed=lambda exc: f"{exc}; holding the batch of {len(items)}",
        delays=delays,
    )


@app.agent(events_topic)
async def intake_events(stream: StreamT[bytes]) -> AsyncIterator[int]:
    """Normalize input events in batches into ``raw`` or dead letters; yields batch sizes.

    Offsets are acknowledged only after the batch's records are in the broker.
    """
    async for events in stream.take_events(  # type: ignore[attr-defined]  # not on StreamT
        settings.topic_batch_size, within=settings.topic_batch_wait_seconds
    ):
        links = batch_links(extract_context(e.message.headers) for e in events)
        with tracer().start_as_current_span("moodstream.ingest.topic", links=links):
            items = [
                item_from_body(e.value if isinstance(e.value, bytes) else b"") for e in events
            ]
            await accept_until_taken(
                items, accept_batch=lambda batch: accept(batch, source=SOURCE)
            )
        yield len(events)
