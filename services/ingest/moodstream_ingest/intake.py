"""One intake path for both doors (HTTP and the input topic).

Every input ends in exactly one place: a ``raw`` record or a dead letter. Callers
get an :class:`Outcome` per item to report back (HTTP) or count (topic).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from moodstream_common.metrics import DEAD_LETTERS, MESSAGES_IN, MESSAGES_OUT
from moodstream_common.tracing import inject_headers, tracer
from moodstream_ingest.app import dead_letter_topic, raw_topic, settings
from moodstream_ingest.normalize import Limits, Rejected, dead_letter, decode_json, normalize

SERVICE = "ingest"

LIMITS = Limits(
    max_body_bytes=settings.max_body_bytes,
    max_text_chars=settings.max_text_chars,
)


@dataclass(frozen=True)
class Outcome:
    """What happened to one input item."""

    accepted: bool
    message_id: str | None = None
    reason: str | None = None
    detail: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The item's result as returned by the HTTP API."""
        if self.accepted:
            return {"status": "accepted", "id": self.message_id}
        return {"status": "rejected", "reason": self.reason, "detail": self.detail}


async def accept_object(obj: object, *, original: bytes, source: str) -> Outcome:
    """Normalize one decoded JSON value and publish it to ``raw`` or dead letters.

    Returns once the broker has acknowledged the record, so an ``accepted`` answer
    means the message is durable in the topic.
    """
    received_at = time.time()
    MESSAGES_IN.labels(SERVICE, source).inc()
    with tracer().start_as_current_span("moodstream.ingest.accept") as span:
        span.set_attribute("moodstream.source", source)
        try:
            record = normalize(obj, received_at=received_at, source=source, limits=LIMITS)
        except Rejected as rejected:
            span.set_attribute("moodstream.rejected", rejected.reason)
            await publish_dead_letter(original, rejected, source=source, received_at=received_at)
            return Outcome(False, reason=rejected.reason, detail=rejected.detail)
        span.set_attribute("moodstream.message_id", record.id)
        span.set_attribute("moodstream.event_type", record.type)
        delivery = await raw_topic.send(key=record.id, value=record, headers=inject_headers())
        await delivery
        MESSAGES_OUT.labels(SERVICE, raw_topic.get_topic_name()).inc()
        return Outcome(True, message_id=record.id)


async def accept_body(body: bytes, *, source: str) -> Outcome:
    """Decode one JSON body and accept it (see :func:`accept_object`)."""
    try:
        obj = decode_json(body, max_bytes=LIMITS.max_body_bytes)
    except Rejected as rejected:
        MESSAGES_IN.labels(SERVICE, source).inc()
        await publish_dead_letter(body, rejected, source=source, received_at=time.time())
        return Outcome(False, reason=rejected.reason, detail=rejected.detail)
    return await accept_object(obj, original=body, source=source)


async def accept_many(items: list[object], *, source: str) -> list[Outcome]:
    """Accept a batch concurrently; results keep the input order."""
    return list(
        await asyncio.gather(
            *(accept_object(item, original=_reencode(item), source=source) for item in items)
        )
    )


async def publish_dead_letter(
    original: bytes, rejected: Rejected, *, source: str, received_at: float
) -> None:
    """Write a rejected input, its reason and its original bytes to the dead-letter topic."""
    letter = dead_letter(
        original, rejected, source=source, service=SERVICE, received_at=received_at
    )
    delivery = await dead_letter_topic.send(value=letter)
    await delivery
    DEAD_LETTERS.labels(SERVICE, rejected.reason).inc()


def _reencode(item: object) -> bytes:
    # Items of a batch arrive already parsed; keep a faithful copy for dead letters.
    try:
        return json.dumps(item, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return repr(item).encode("utf-8", "backslashreplace")
