"""One intake path for every door (HTTP, the input topic, RabbitMQ).

Every input ends in exactly one place: a ``raw`` record or a dead letter. A batch is
validated first (:func:`validate`), which also starts detecting its languages, then
*sent in input order* and only then awaited together (:func:`deliver`), so two events of
one message in one batch keep their order in the partition while the broker round trips
overlap. A large batch's languages are detected in a child process
(:mod:`moodstream_ingest.language_worker`) while the event loop goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aiokafka.errors import KafkaError
from opentelemetry import trace

from moodstream_common.errors import rejection_body
from moodstream_common.faust_app import send_direct
from moodstream_common.metrics import DEAD_LETTERS, MESSAGES_IN, MESSAGES_OUT
from moodstream_common.records import DeadLetter, RawMessage
from moodstream_common.tracing import inject_headers, tracer
from moodstream_ingest import language
from moodstream_ingest.app import app, dead_letter_topic, raw_topic, settings
from moodstream_ingest.language_worker import CHUNK_TEXTS, LanguageWorker, detect_inline
from moodstream_ingest.normalize import Limits, Rejected, dead_letter, decode_json, normalize

SERVICE = "ingest"
RAW_TOPIC = raw_topic.get_topic_name()

LIMITS = Limits(
    max_body_bytes=settings.max_body_bytes,
    max_text_chars=settings.max_text_chars,
    detect_language=settings.detect_language,
)
# Validation leaves languages to validate(), which detects them a chunk at a time.
_VALIDATION_LIMITS = replace(LIMITS, detect_language=False)
if LIMITS.detect_language:
    language.load()  # at start: the first message must not pay for it
LANGUAGE_WORKER = (
    LanguageWorker(min_batch=settings.language_worker_min_batch)
    if LIMITS.detect_language and settings.language_worker
    else None
)


class BrokerUnavailable(Exception):
    """The broker did not take the records within ``INGEST_DELIVERY_TIMEOUT_SECONDS``.

    Some may still arrive later: callers answer "retry" and a retry with the same
    message ids is absorbed downstream, since aggregates are idempotent per id.
    """


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
        return rejection_body(self.reason or "", self.detail or "")


@dataclass
class Chunk:
    """Consecutive results of a batch (a record or a dead letter per item, in order),
    and the languages of their messages, still being detected when ``detection`` is
    set (see :meth:`LanguageWorker.submit`)."""

    results: list[RawMessage | DeadLetter]
    messages: list[RawMessage]
    detection: Any = None


@dataclass(frozen=True)
class Validated:
    """A batch validated, in chunks, which :func:`deliver` sends in order."""

    source: str
    chunks: list[Chunk]

    def __len__(self) -> int:
        return sum(len(chunk.results) for chunk in self.chunks)


@dataclass(frozen=True)
class Item:
    """One input: either already-decoded JSON (``value``) or raw bytes to decode."""

    original: bytes
    value: object = None
    decoded: bool = False


def item_from_body(body: bytes) -> Item:
    """An input that arrived as bytes (HTTP body, topic record)."""
    return Item(original=body)


def item_from_value(value: object) -> Item:
    """An input already decoded (an element of a batch request)."""
    return Item(original=_reencode(value), value=value, decoded=True)


def _validate(item: Item, *, source: str, received_at: float) -> RawMessage | DeadLetter:
    try:
        value = (
            item.value
            if item.decoded
            else decode_json(
                item.original, max_bytes=LIMITS.max_body_bytes, max_depth=LIMITS.max_depth
            )
        )
        return normalize(
            value, received_at=received_at, source=source, limits=_VALIDATION_LIMITS
        )
    except Rejected as rejected:
        return dead_letter(
            item.original, rejected, source=source, service=SERVICE, received_at=received_at
        )


async def accept(items: Sequence[Item], *, source: str) -> list[Outcome]:
    """Validate ``items``, publish each to ``raw`` or dead letters, in order.

    Returns once the broker has acknowledged every record, so an ``accepted`` answer
    means the message is durable in the topic. Raises :class:`BrokerUnavailable` when
    that takes longer than the delivery timeout (broker down or unreachable).
    """
    return await deliver(validate(items, source=source))


def validate(items: Sequence[Item], *, source: str) -> Validated:
    """Validate ``items`` and start detecting the languages of their texts.

    Sends nothing, so a door may validate its next batch while it delivers this one. In
    a batch of at least ``INGEST_LANGUAGE_WORKER_MIN_BATCH`` items, each chunk's texts go
    to the language worker as soon as the chunk is validated, so the child detects them
    while this process validates and sends the rest; else they are detected here.
    """
    received_at = time.time()
    MESSAGES_IN.labels(SERVICE, source).inc(len(items))
    worker = LANGUAGE_WORKER
    if worker is None or len(items) < worker.min_batch:
        worker = None
    step = CHUNK_TEXTS if worker is not None else max(1, len(items))
    chunks = []
    for start in range(0, len(items), step):
        results = [
            _validate(item, source=source, received_at=received_at)
            for item in items[start : start + step]
        ]
        messages = (
            [r for r in results if isinstance(r, RawMessage) and r.text is not None]
            if LIMITS.detect_language
            else []
        )
        chunk = Chunk(results, messages)
        if messages:
            texts = [message.text or "" for message in messages]
            chunk.detection = worker.submit(texts) if worker is not None else None
            if chunk.detection is None:  # no worker, or no child up yet
                _set_languages(messages, detect_inline(texts))
        chunks.append(chunk)
    return Validated(source, chunks)


async def deliver(validated: Validated) -> list[Outcome]:
    """Publish a validated batch to ``raw`` and dead letters, in order (see
    :func:`accept`). May be called again for the same batch after
    :class:`BrokerUnavailable`: the records are sent again."""
    deliveries: list[Awaitable[Any]] = []
    outcomes = []
    with tracer().start_as_current_span("moodstream.ingest.accept") as batch_span:
        batch_span.set_attribute("moodstream.source", validated.source)
        batch_span.set_attribute("moodstream.batch_size", len(validated))
        for chunk in validated.chunks:
            if chunk.detection is not None and LANGUAGE_WORKER is not None:
                texts = [message.text or "" for message in chunk.messages]
                found = await LANGUAGE_WORKER.languages(chunk.detection, texts)
                _set_languages(chunk.messages, found)
                chunk.detection = None
            for result in chunk.results:
                if isinstance(result, RawMessage):
                    deliveries.append(await _send_raw(result))
                    outcomes.append(Outcome(True, message_id=result.id))
                else:
                    deliveries.append(await dead_letter_topic.send(value=result))
                    DEAD_LETTERS.labels(SERVICE, result.reason).inc()
                    outcomes.append(Outcome(False, reason=result.reason, detail=result.detail))
        try:
            # Shielded: on timeout the deliveries go on (and may still land); only the
            # caller stops waiting for them.
            await asyncio.wait_for(
                asyncio.shield(asyncio.gather(*deliveries)),
                timeout=settings.delivery_timeout_seconds,
            )
        except (TimeoutError, KafkaError) as exc:
            batch_span.record_exception(exc)
            raise BrokerUnavailable(f"broker did not take {len(validated)} records") from exc
    MESSAGES_OUT.labels(SERVICE, RAW_TOPIC).inc(
        sum(1 for outcome in outcomes if outcome.accepted)
    )
    return outcomes


def _set_languages(messages: Sequence[RawMessage], found: Sequence[language.Detected]) -> None:
    for message, detected in zip(messages, found, strict=True):
        message.language, message.language_confidence = detected


async def _send_raw(record: RawMessage) -> Awaitable[Any]:
    """Send one record to ``raw`` under a span of its own; returns the delivery future."""
    # Not made the current span: attaching and detaching a context per message cost
    # more than the span itself; its context travels in the record's headers.
    span = tracer().start_span(
        "moodstream.ingest.message",
        attributes={"moodstream.message_id": record.id, "moodstream.event_type": record.type},
    )
    try:
        headers = inject_headers(trace.set_span_in_context(span))
        return await send_direct(app, raw_topic, record.id, record, headers)
    finally:
        span.end()


def _reencode(value: object) -> bytes:
    # Items of a batch arrive already parsed; keep a faithful copy for dead letters.
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return repr(value).encode("utf-8", "backslashreplace")
