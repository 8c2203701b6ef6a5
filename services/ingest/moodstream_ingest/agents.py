"""Ingest agents.

Reads: ``events`` (JSON bytes from any Kafka producer).
Writes: ``raw`` (normalized :class:`RawMessage`, keyed by message id) and
``dead-letters`` (anything that could not be accepted, with the reason).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from faust import StreamT

from moodstream_common.tracing import extract_context, tracer
from moodstream_ingest.app import app, events_topic, settings
from moodstream_ingest.intake import accept_body

SOURCE = f"topic:{events_topic.get_topic_name()}"


@app.agent(events_topic)
async def intake_events(stream: StreamT[bytes]) -> AsyncIterator[bool]:
    """Normalize each input event into ``raw`` or a dead letter; yields accepted/rejected."""
    async for event in stream.events():
        body = event.value if isinstance(event.value, bytes) else b""
        parent = extract_context(event.message.headers)
        with tracer().start_as_current_span("moodstream.ingest.topic", context=parent):
            outcome = await accept_body(body, source=SOURCE)
        yield outcome.accepted


__all__ = ["intake_events", "settings"]
