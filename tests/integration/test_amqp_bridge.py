"""The RabbitMQ bridge against a real RabbitMQ node and the real embedded Kafka broker.

Source: both queue shapes land in ``raw`` with stable ids, bad bodies in dead letters
(and, through the failed exchange, in ``failed_texts``), and the queues end empty.
Sink: scored records reach ``processed_texts``. No loss: two bridges share a queue,
one is SIGKILLed mid-stream, and every message is still in ``raw``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid

import aio_pika
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from moodstream_common import topics
from moodstream_common.records import ScoredMessage
from moodstream_dev.broker import create_topics
from moodstream_dev.processes import ServiceProcess, free_port, service_env
from tests.helpers import eventually, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bridge(broker, rabbitmq, tmp_path_factory):
    """Queue names and an ingest process with the bridge on, on topics of its own."""
    prefix = f"amqp{uuid.uuid4().hex[:6]}-"
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    names = {
        "incoming": f"{prefix}incoming_texts",
        "sentiment": f"{prefix}sentiment-analysis-queue",
        "processed": f"{prefix}processed_texts",
        "failed": f"{prefix}failed_texts",
        "exchange": f"{prefix}failed",
    }
    env_extra = {
        "INGEST_AMQP_URL": rabbitmq.url,
        "INGEST_AMQP_QUEUES": f"{names['incoming']},{names['sentiment']}",
        "INGEST_AMQP_PROCESSED_QUEUE": names["processed"],
        "INGEST_AMQP_FAILED_QUEUE": names["failed"],
        "INGEST_AMQP_FAILED_EXCHANGE": names["exchange"],
    }
    state = tmp_path_factory.mktemp("amqp")

    def start(name: str) -> ServiceProcess:
        port = free_port()
        env = service_env("ingest", broker=broker, port=port, data_dir=state / name,
                          topic_prefix=prefix, extra=env_extra)
        service = ServiceProcess("ingest", port, env, state / f"{name}.log")
        service.start()
        service.wait_ready(90)
        return service

    first = start("ingest-1")
    # Ready means subscribed: RabbitMQ drops what is published to an undeclared queue.
    assert httpx.get(f"{first.url}/readyz").json()["amqp_consuming"] is True
    try:
        yield {"prefix": prefix, "names": names, "first": first, "start": start,
               "url": rabbitmq.url, "bootstrap": broker.bootstrap}
    finally:
        first.stop()


async def _publish(url: str, queue: str, bodies: list[bytes], message_ids=None) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for i, body in enumerate(bodies):
            message_id = message_ids[i] if message_ids else None
            await channel.default_exchange.publish(
                aio_pika.Message(body, message_id=message_id), routing_key=queue
            )


async def _drain(url: str, queue: str, *, quiet: float = 2.0) -> list[aio_pika.IncomingMessage]:
    """Every message in ``queue`` (acknowledged), waiting ``quiet`` s for stragglers."""
    connection = await aio_pika.connect(url)
    got = []
    async with connection:
        channel = await connection.channel()
        source = await channel.get_queue(queue, ensure=True)
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            message = await source.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            await message.ack()
            got.append(message)
            last = time.monotonic()
    return got


async def _depth(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count


def _raw(bridge) -> list[dict]:
    return [value for _, value in read_topic(bridge["bootstrap"], topics.RAW.name(bridge["prefix"]))]


def test_both_queue_shapes_reach_raw_with_stable_ids(bridge):
    names = bridge["names"]
    contract = [json.dumps({"id": f"c_{i}", "text": f"contract message {i}",
                            "user_id": "u_1"}).encode() for i in range(20)]
    asyncio.run(_publish(bridge["url"], names["incoming"], contract))
    texts = [json.dumps({"text": f"legacy text number {i} #old"}).encode() for i in range(10)]
    with_ids = [f"pub-{i}" if i < 3 else None for i in range(10)]
    asyncio.run(_publish(bridge["url"], names["sentiment"], texts, with_ids))

    def arrived():
        raw = _raw(bridge)
        return raw if len({r["id"] for r in raw}) >= 30 else None

    raw = eventually(arrived, timeout=60)
    by_id = {r["id"]: r for r in raw}
    assert {f"c_{i}" for i in range(20)} <= set(by_id)
    assert by_id["c_3"]["text"] == "contract message 3"
    assert by_id["c_3"]["source"] == f"amqp:{names['incoming']}"
    # The message_id property is the id of a body without one: stable across
    # redeliveries. aio-pika (aiormq) gives every message a random one when the publisher
    # sets none; a hash of queue and body covers clients that send none at all
    # (tests/unit/ingest/test_amqp_ids.py).
    assert {"pub-0", "pub-1", "pub-2"} <= set(by_id)
    from_sentiment = [i for i, r in by_id.items() if r["source"] == f"amqp:{names['sentiment']}"]
    assert len(from_sentiment) == 10
    assert by_id["pub-1"]["text"] == "legacy text number 1 #old"
    assert by_id["pub-1"]["source"] == f"amqp:{names['sentiment']}"
    eventually(lambda: asyncio.run(_depth(bridge["url"], names["incoming"])) == 0, timeout=30)
    eventually(lambda: asyncio.run(_depth(bridge["url"], names["sentiment"])) == 0, timeout=30)


def test_bad_bodies_become_dead_letters_and_reach_failed_texts(bridge):
    names = bridge["names"]
    bad = [b"{not json", b"\xff\xfe\x00", b"[1, 2]", json.dumps({"id": 5, "text": []}).encode(),
           json.dumps({"type": "delete"}).encode()]
    asyncio.run(_publish(bridge["url"], names["incoming"], bad))
    dead_topic = topics.DEAD_LETTERS.name(bridge["prefix"])

    def dead():
        letters = [v for _, v in read_topic(bridge["bootstrap"], dead_topic)]
        return letters if len(letters) >= len(bad) else None

    letters = eventually(dead, timeout=60)
    assert len(letters) == len(bad)
    assert {letter["source"] for letter in letters} == {f"amqp:{names['incoming']}"}
    reasons = {letter["reason"] for letter in letters}
    assert {"malformed_json", "not_an_object", "missing_id"} <= reasons, reasons
    # Acknowledged, not requeued forever.
    eventually(lambda: asyncio.run(_depth(bridge["url"], names["incoming"])) == 0, timeout=30)
    failed = asyncio.run(_drain(bridge["url"], names["failed"]))
    bodies = [json.loads(m.body) for m in failed]
    assert sorted(b["reason"] for b in bodies) == sorted(letter["reason"] for letter in letters)
    assert all(m.exchange == names["exchange"] for m in failed)


def test_scored_results_are_published_to_processed_texts(bridge):
    scored_topic = topics.SCORED.name(bridge["prefix"])
    now = time.time()
    records = [
        ScoredMessage(id=f"s_{i}", type="update", event_time=now, received_at=now,
                      text=f"scored {i}", label="positive", score=0.8, confidence=0.9,
                      hashtags=["x"], model_name="flair", model_version="v1")
        for i in range(12)
    ]
    records.append(ScoredMessage(id="s_0", type="delete", event_time=now, received_at=now))

    async def produce():
        producer = AIOKafkaProducer(bootstrap_servers=bridge["bootstrap"])
        await producer.start()
        try:
            for record in records:
                await producer.send_and_wait(scored_topic, record.dumps(), key=record.id.encode())
        finally:
            await producer.stop()

    asyncio.run(produce())
    names = bridge["names"]
    got: list = []
    eventually(
        lambda: got.extend(asyncio.run(_drain(bridge["url"], names["processed"], quiet=1.0)))
        or len({m.message_id for m in got}) >= 12,
        timeout=60,
    )
    ids = {m.message_id for m in got}
    assert ids == {f"s_{i}" for i in range(12)}  # the delete has no score: not published
    body = json.loads(next(m for m in got if m.message_id == "s_4").body)
    assert body["sentiment"] == "positive" and body["text"] == "scored 4"
    assert body["model"] == "flair:v1"
    assert all(m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for m in got)


def test_competing_bridges_lose_nothing_when_one_is_killed(bridge):
    names = bridge["names"]
    second = bridge["start"]("ingest-2")
    try:
        count = 600
        bodies = [json.dumps({"id": f"k_{i}", "text": f"message {i} under fire"}).encode()
                  for i in range(count)]
        asyncio.run(_publish(bridge["url"], names["incoming"], bodies))
        time.sleep(0.3)
        bridge["first"].signal(signal.SIGKILL)  # mid-stream: some batches unacknowledged

        def all_there():
            ids = [r["id"] for r in _raw(bridge) if r["id"].startswith("k_")]
            return ids if len(set(ids)) == count else None

        ids = eventually(all_there, timeout=90)
        assert set(ids) == {f"k_{i}" for i in range(count)}
        print(f"{len(ids) - count} redelivered duplicates in raw (absorbed downstream)")
        eventually(lambda: asyncio.run(_depth(bridge["url"], names["incoming"])) == 0,
                   timeout=60)
    finally:
        second.stop()
        bridge["first"].stop()
