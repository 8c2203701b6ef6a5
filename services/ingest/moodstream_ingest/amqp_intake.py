"""The AMQP source: RabbitMQ queues -> ``raw`` (or dead letters), for teams moving over.

On when ``INGEST_AMQP_URL`` is set. Consumes every queue in ``INGEST_AMQP_QUEUES``
(default ``incoming_texts`` and ``sentiment-analysis-queue``) with a prefetch of
``INGEST_AMQP_PREFETCH``, hands messages in small batches to the same
:func:`~moodstream_ingest.intake.accept` as the HTTP and topic doors, and
**acknowledges a message only after the broker has its raw record or its dead
letter**. A crash, a lost connection or a broker outage therefore leaves the message
unacknowledged and RabbitMQ redelivers it: nothing is lost, and a message can reach
``raw`` twice.

Twice is harmless because the id is stable across redeliveries: the body's ``id``, or
else the AMQP ``message_id`` property, or else ``amqp-`` + a SHA-256 of queue and
body. The aggregator applies each id once, so several bridges sharing a queue
(competing consumers) never double count. Publishers that send the same text twice on
purpose should set ``message_id`` (or an ``id``), since identical bodies share an id.

Queues are declared durable with ``x-dead-letter-exchange`` set to the failed
exchange, so anything RabbitMQ itself dead-letters lands in ``failed_texts`` too;
``INGEST_AMQP_DECLARE=false`` uses existing queues as they are.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from yarl import URL

from moodstream_common.backoff import retrying
from moodstream_ingest import amqp_setup
from moodstream_ingest.amqp_status import BRIDGE
from moodstream_ingest.app import app, settings
from moodstream_ingest.intake import LIMITS, Item, accept, item_from_body
from moodstream_ingest.normalize import Rejected, decode_json
from moodstream_ingest.settings import amqp_queue_names

log = logging.getLogger("moodstream.ingest.amqp")

# Keys that make normalize find (or refuse to invent) an id itself.
_ID_BEARING_KEYS = ("id", "id_str", "type", "data", "delete")


def stable_id(queue: str, body: bytes, message_id: str | None) -> str:
    """The id a body without one gets: the same on every redelivery of the message."""
    if message_id:
        return message_id
    return "amqp-" + hashlib.sha256(queue.encode() + b"\0" + body).hexdigest()[:32]


def item_for(queue: str, body: bytes, message_id: str | None) -> Item:
    """The intake item for one AMQP message, with a stable id injected when needed."""
    try:
        value = decode_json(body, max_bytes=LIMITS.max_body_bytes, max_depth=LIMITS.max_depth)
    except Rejected:
        return item_from_body(body)  # accept() turns it into a dead letter with the reason
    if not isinstance(value, dict) or any(key in value for key in _ID_BEARING_KEYS):
        return Item(original=body, value=value, decoded=True)
    return Item(
        original=body, value={**value, "id": stable_id(queue, body, message_id)}, decoded=True
    )


async def _next_batch(
    deliveries: asyncio.Queue[tuple[str, AbstractIncomingMessage]],
) -> list[tuple[str, AbstractIncomingMessage]]:
    batch = [await deliveries.get()]
    deadline = asyncio.get_running_loop().time() + settings.amqp_batch_wait_seconds
    while len(batch) < settings.amqp_batch_size:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(deliveries.get(), remaining))
        except TimeoutError:
            break
    return batch


async def _settle(batch: list[tuple[str, AbstractIncomingMessage]]) -> None:
    """Accept one batch into the topics, then ack it; on failure leave it to RabbitMQ."""
    by_queue: dict[str, list[AbstractIncomingMessage]] = defaultdict(list)
    for queue, message in batch:
        by_queue[queue].append(message)
    for queue, messages in by_queue.items():
        items = [item_for(queue, m.body, m.message_id) for m in messages]
        try:
            await accept(items, source=f"amqp:{queue}")
        except Exception:
            # Kafka did not take them: requeue so this or another bridge retries.
            log.exception("could not hand %d messages from %s to the broker", len(items), queue)
            await _each(messages, "nack", requeue=True)
            continue
        await _each(messages, "ack")


async def _each(messages: list[AbstractIncomingMessage], verb: str, **kwargs: Any) -> None:
    try:
        for message in messages:
            await getattr(message, verb)(**kwargs)
    except aio_pika.exceptions.AMQPError as exc:
        # The channel closed under us (RabbitMQ restart): RabbitMQ redelivers the
        # unacknowledged messages and the stable ids absorb the second copy.
        log.warning("could not %s %d AMQP messages: %s", verb, len(messages), exc)


def _safe_address(url: str) -> str:
    # Never log the password that AMQP URLs carry.
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}{parsed.path}"


async def connect(url: str) -> AbstractRobustConnection:
    """A self-healing connection; waits with backoff (and a log line) until RabbitMQ answers."""
    connection = await retrying(
        lambda: aio_pika.connect_robust(url),
        retry_on=(OSError, aio_pika.exceptions.AMQPConnectionError),
        log=log,
        failed=lambda exc: f"RabbitMQ not reachable at {_safe_address(url)} "
        f"({type(exc).__name__})",
    )
    log.info("AMQP connected to %s", _safe_address(url))
    return connection


SETUP_TIMEOUT_S = 20.0


async def _subscribe(
    connection: AbstractRobustConnection,
    deliveries: asyncio.Queue[tuple[str, AbstractIncomingMessage]],
) -> None:
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=settings.amqp_prefetch)
    await amqp_setup.declare_failed_route(channel, settings)
    for name in amqp_queue_names(settings):
        queue = await amqp_setup.source_queue(channel, name, settings)

        async def on_message(message: AbstractIncomingMessage, _queue: str = name) -> Any:
            await deliveries.put((_queue, message))

        await queue.consume(on_message)
        log.info("AMQP bridge consuming %s (prefetch %d)", name, settings.amqp_prefetch)


async def run_bridge() -> None:
    """Consume the configured queues until cancelled (the app stopping)."""
    url = settings.amqp_url.get_secret_value()
    deliveries: asyncio.Queue[tuple[str, AbstractIncomingMessage]] = asyncio.Queue()
    while True:
        connection = await connect(url)
        try:
            # A setup step that never answers must not leave intake silently off.
            await asyncio.wait_for(_subscribe(connection, deliveries), SETUP_TIMEOUT_S)
            BRIDGE.consuming = True
            break
        except (TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            log.warning("AMQP setup failed (%s); reconnecting", type(exc).__name__)
            await connection.close()
    try:
        while True:
            await _settle(await _next_batch(deliveries))
    finally:
        # Unacknowledged messages go back to their queues when the connection closes.
        await connection.close()


if settings.amqp_url.get_secret_value():
    BRIDGE.enabled = True  # /readyz waits for the subscription

    @app.task  # type: ignore[untyped-decorator]  # Faust leaves its decorators untyped
    async def amqp_bridge() -> None:
        """Run the AMQP source for the life of the worker."""
        try:
            await run_bridge()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Faust would drop a task's exception silently; make it loud, then stop the
            # worker so an orchestrator restarts it rather than leaving intake half off.
            log.exception("AMQP bridge failed; stopping the worker")
            await app.stop()
