"""RabbitMQ topology the bridge relies on, declared idempotently by source and sink.

- ``moodstream.failed`` (fanout, durable) -> ``failed_texts`` (durable): the
  dead-letter exchange. The sink publishes Moodstream's dead letters to it, and the
  source queues name it as their ``x-dead-letter-exchange`` so whatever RabbitMQ
  dead-letters by itself (rejections, TTL, length limits) ends up there too.
- ``processed_texts`` (durable): scored results, published by the sink.
"""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from moodstream_ingest.settings import Settings


async def declare_failed_route(channel: AbstractChannel, settings: Settings) -> AbstractExchange:
    """Declare the failed exchange and its queue (bound); returns the exchange."""
    if not settings.amqp_declare:
        return await channel.get_exchange(settings.amqp_failed_exchange, ensure=True)
    exchange = await channel.declare_exchange(
        settings.amqp_failed_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    failed = await channel.declare_queue(settings.amqp_failed_queue, durable=True)
    await failed.bind(exchange)
    return exchange


async def source_queue(channel: AbstractChannel, name: str, settings: Settings) -> AbstractQueue:
    """A source queue, dead-lettering to the failed exchange (or as it exists)."""
    if not settings.amqp_declare:
        return await channel.get_queue(name, ensure=True)
    return await channel.declare_queue(
        name, durable=True, arguments={"x-dead-letter-exchange": settings.amqp_failed_exchange}
    )


async def processed_queue(channel: AbstractChannel, settings: Settings) -> AbstractQueue:
    """The queue scored results go to."""
    if not settings.amqp_declare:
        return await channel.get_queue(settings.amqp_processed_queue, ensure=True)
    return await channel.declare_queue(settings.amqp_processed_queue, durable=True)
