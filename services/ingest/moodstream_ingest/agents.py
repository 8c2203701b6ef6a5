"""Ingest agents.

Reads: ``events`` (JSON bytes from any Kafka producer, e.g. kcat).
Writes: ``raw`` (normalized :class:`RawMessage`, keyed by message id) and
``dead-letters`` (anything that could not be accepted, with the reason and bytes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from faust import StreamT
from opentelemetry import trace

from moodstream_common.tracing import extract_context, tracer
from moodstream_ingest.app import app, events_topic, settings
from moodstream_ingest.intake import accept, item_from_body

SOURCE = f"topic:{events_topic.get_topic_name()}"


@app.agent(events_topic)
async def intake_events(stream: StreamT[bytes]) -> AsyncIterator[int]:
    """Normalize input events in batches into ``raw`` or dead letters; yields batch sizes.

    Offsets are acknowledged only after the batch's records are in the broker.
    """
    async for events in stream.take_events(settings.topic_batch_size, within=0.05):  # type: ignore[attr-defined]  # not on StreamT
        links = [
            trace.Link(trace.get_current_span(extract_context(e.message.headers)).get_span_context())
            for e in events
        ]
        with tracer().start_as_current_span("moodstream.ingest.topic", links=links):
            items = [
                item_from_body(e.value if isinstance(e.value, bytes) else b"") for e in events
            ]
            await accept(items, source=SOURCE)
        yield len(events)
