"""RabbitMQ in, RabbitMQ out, through the whole pipeline and the real model.

Two ingest bridges compete for the same queues; one is SIGKILLed mid-stream and the
producer also re-sends part of the stream (as a retrying publisher would). The
aggregates still count every message exactly once, and ``processed_texts`` holds a
scored result for every message.
"""

from __future__ import annotations

import asyncio
import json
import signal

import aio_pika
import httpx
import pytest

from moodstream_common import topics
from tests.e2e.conftest import start_another
from tests.helpers import eventually, group_caught_up

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CONTRACT = 200
LEGACY = 100
RESENT = 40


@pytest.fixture(scope="module")
def queues(stack_prefix):
    """This module's queue names."""
    return {
        "incoming": f"{stack_prefix}incoming_texts",
        "sentiment": f"{stack_prefix}sentiment-analysis-queue",
        "processed": f"{stack_prefix}processed_texts",
        "failed": f"{stack_prefix}failed_texts",
    }


@pytest.fixture(scope="module")
def stack_env(rabbitmq, queues, stack_prefix):
    """Ingest runs the bridge on this module's queues."""
    return {
        "INGEST_AMQP_URL": rabbitmq.url,
        "INGEST_AMQP_QUEUES": f"{queues['incoming']},{queues['sentiment']}",
        "INGEST_AMQP_PROCESSED_QUEUE": queues["processed"],
        "INGEST_AMQP_FAILED_QUEUE": queues["failed"],
        "INGEST_AMQP_FAILED_EXCHANGE": f"{stack_prefix}failed",
    }


async def _publish(url: str, queue: str, messages: list[tuple[str, bytes]]) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for message_id, body in messages:
            await channel.default_exchange.publish(
                aio_pika.Message(body, message_id=message_id), routing_key=queue
            )


async def _drain_ids(url: str, queue: str) -> set[str]:
    connection = await aio_pika.connect(url)
    ids: set[str] = set()
    async with connection:
        channel = await connection.channel()
        source = await channel.get_queue(queue, ensure=True)
        while (message := await source.get(fail=False)) is not None:
            await message.ack()
            ids.add(message.message_id)
    return ids


def test_competing_bridges_count_every_message_once(broker, stack, stack_prefix, queues,
                                                    rabbitmq, tmp_path):
    first = stack["ingest"]
    second = start_another(first, tmp_path)
    try:
        contract = [
            (f"c_{i}", json.dumps({"id": f"c_{i}", "user_id": f"u_{i % 7}",
                                   "text": f"order {i} arrived, great #shipping"}).encode())
            for i in range(CONTRACT)
        ]
        legacy = [(f"t_{i}", json.dumps({"text": f"still waiting on refund {i}"}).encode())
                  for i in range(LEGACY)]
        asyncio.run(_publish(rabbitmq.url, queues["incoming"], contract[: CONTRACT // 2]))
        asyncio.run(_publish(rabbitmq.url, queues["sentiment"], legacy))
        first.signal(signal.SIGKILL)  # mid-stream: its unacknowledged batches go to the other
        asyncio.run(_publish(rabbitmq.url, queues["incoming"], contract[CONTRACT // 2 :]))
        asyncio.run(_publish(rabbitmq.url, queues["incoming"], contract[:RESENT]))  # retries

        expected = CONTRACT + LEGACY
        group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                        topics.RAW.name(stack_prefix), timeout=180)
        aggregator = stack["aggregator"].url

        def total() -> int:
            return httpx.get(f"{aggregator}/v1/totals", timeout=10).json()["total"]

        eventually(lambda: total() == expected, timeout=120)
        # Everything the bridge wrote has been scored and applied: a duplicate would show.
        group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                        topics.RAW.name(stack_prefix), timeout=120)
        group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator",
                        topics.SCORED.name(stack_prefix), timeout=120)
        assert total() == expected, "a duplicate was counted"
        assert httpx.get(f"{aggregator}/v1/messages/t_5", timeout=10).status_code == 200

        ids: set[str] = set()
        eventually(
            lambda: ids.update(asyncio.run(_drain_ids(rabbitmq.url, queues["processed"])))
            or len(ids) >= expected,
            timeout=120,
        )
        assert ids == {m for m, _ in contract} | {m for m, _ in legacy}
    finally:
        second.stop()
