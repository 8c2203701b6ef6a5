"""The AMQP sink: scored results -> ``processed_texts``, dead letters -> ``failed_texts``.

On when ``INGEST_AMQP_URL`` is set and ``INGEST_AMQP_SINK`` is true (the default).
Two agents of the ingest app read ``scored`` and ``dead-letters`` and publish each
record as persistent JSON with publisher confirms; a batch's events are acknowledged
(their offsets become committable) only after RabbitMQ confirmed every message of it.
Delivery is at-least-once: after a crash a consumer of these queues can see a message
again, with the same AMQP ``message_id`` (the Moodstream message id): deduplicate on it.

Deletes have no score and are not published to ``processed_texts``. Dead letters go
through the failed exchange (see :mod:`moodstream_ingest.amqp_setup`), and carry the
reason, detail, source and a preview of the original bytes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from faust import StreamT

from moodstream_common import topics
from moodstream_common.backoff import retrying
from moodstream_common.records import EVENT_DELETE, DeadLetter, ScoredMessage
from moodstream_ingest import amqp_setup
from moodstream_ingest.amqp_intake import connect
from moodstream_ingest.app import app, dead_letter_topic, settings

log = logging.getLogger("moodstream.ingest.amqp")


def processed_body(record: ScoredMessage) -> dict[str, Any]:
    """What ``processed_texts`` consumers receive for one scored message."""
    return {
        "id": record.id,
        "text": record.text,
        "user_id": record.user_id,
        "sentiment": record.label,
        "score": record.score,
        "confidence": record.confidence,
        "hashtags": list(record.hashtags),
        "mentions": list(record.mentions),
        "event_time": record.event_time,
        "scored_at": record.scored_at,
        "model": f"{record.model_name}:{record.model_version}",
        "source": record.source,
    }


def failed_body(record: DeadLetter) -> dict[str, Any]:
    """What ``failed_texts`` consumers receive for one dead letter."""
    return {
        "reason": record.reason,
        "detail": record.detail,
        "source": record.source,
        "service": record.service,
        "message_id": record.message_id,
        "received_at": record.received_at,
        "original_preview": record.original_preview,
    }


class Publisher:
    """One confirmed channel, opened on first use and reused by both agents."""

    def __init__(self) -> None:
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._failed: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    async def _ready(self) -> tuple[AbstractChannel, AbstractExchange]:
        async with self._lock:
            if self._channel is None or self._channel.is_closed:
                if self._connection is None:
                    self._connection = await connect(settings.amqp_url.get_secret_value())
                self._channel = await self._connection.channel(publisher_confirms=True)
                self._failed = await amqp_setup.declare_failed_route(self._channel, settings)
                await amqp_setup.processed_queue(self._channel, settings)
            assert self._failed is not None
            return self._channel, self._failed

    async def publish(
        self, to_failed: bool, bodies: list[tuple[str | None, dict[str, Any]]]
    ) -> None:
        """Publish ``(message_id, body)`` pairs; returns once RabbitMQ confirmed all.

        Retries with backoff while RabbitMQ is away, so the stream simply pauses (its
        offsets stay uncommitted) instead of crashing the agent.
        """
        await retrying(
            lambda: self._publish_once(to_failed, bodies),
            retry_on=(OSError, aio_pika.exceptions.AMQPError),
            log=log,
            failed=lambda exc: f"publishing {len(bodies)} results to RabbitMQ failed "
            f"({type(exc).__name__})",
        )

    async def _publish_once(
        self, to_failed: bool, bodies: list[tuple[str | None, dict[str, Any]]]
    ) -> None:
        channel, failed = await self._ready()
        exchange = failed if to_failed else channel.default_exchange
        routing_key = "" if to_failed else settings.amqp_processed_queue
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        json.dumps(body, ensure_ascii=False).encode(),
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=message_id,
                    ),
                    routing_key=routing_key,
                )
                for message_id, body in bodies
            )
        )


publisher = Publisher()


if settings.amqp_url.get_secret_value() and settings.amqp_sink:
    scored_topic = app.topic(
        settings.broker.topic(topics.SCORED),
        partitions=topics.SCORED.partitions,
        key_type=str,
        value_type=ScoredMessage,
    )

    @app.agent(scored_topic)
    async def publish_scored(stream: StreamT[ScoredMessage]) -> AsyncIterator[int]:
        """Publish scored updates to ``processed_texts``; yields batch sizes."""
        async for events in stream.take_events(  # type: ignore[attr-defined]  # not on StreamT
            settings.amqp_sink_batch_size, within=settings.amqp_sink_batch_wait_seconds
        ):
            records = [e.value for e in events]
            bodies = [(r.id, processed_body(r)) for r in records if r.type != EVENT_DELETE]
            if bodies:
                await publisher.publish(False, bodies)
            yield len(records)

    @app.agent(dead_letter_topic)
    async def publish_failed(stream: StreamT[DeadLetter]) -> AsyncIterator[int]:
        """Publish dead letters through the failed exchange; yields batch sizes."""
        async for events in stream.take_events(  # type: ignore[attr-defined]  # not on StreamT
            settings.amqp_sink_batch_size, within=settings.amqp_sink_batch_wait_seconds
        ):
            records = [e.value for e in events]
            await publisher.publish(True, [(r.message_id, failed_body(r)) for r in records])
            yield len(records)
