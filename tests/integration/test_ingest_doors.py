"""Both ingest doors on the real broker: every input ends in ``raw`` or in the
dead-letter topic (count in = count out), the service stays up, a non-Python client
can produce to the input topic, and HTTP answers 4xx with a reason."""

import asyncio
import base64
import json
import re
import subprocess
import time

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from moodstream_common import topics
from moodstream_dev.broker import broker_binary
from tests.corpus.hostile import HOSTILE_BODIES

pytestmark = pytest.mark.integration


async def _read_all(bootstrap, topic_names, expected, timeout=60.0, source_prefix=None,
                    keys=None):
    """Every record of ``topic_names``, read until ``expected`` of them have arrived, and
    for a second more. Only records from a ``source_prefix`` door, or with one of
    ``keys``, count when given: the topics hold other tests' records too (and on a
    cluster each fetch answers from one broker's partitions, so a count of everything
    can be reached before this test's records are all in)."""
    consumer = AIOKafkaConsumer(*topic_names, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", fetch_max_wait_ms=100)
    await consumer.start()
    records = []

    def counted():
        if keys is not None:
            return sum(1 for r in records if r.key in keys)
        if source_prefix is None:
            return len(records)
        return sum(1 for r in records if json.loads(r.value)["source"].startswith(source_prefix))

    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while counted() < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(items)
        # A little longer: more than expected would be a bug too.
        batch = await consumer.getmany(timeout_ms=1_000)
        for items in batch.values():
            records.extend(items)
    finally:
        await consumer.stop()
    return records


def _split(records, source_prefix):
    raw, dead = [], []
    for record in records:
        value = json.loads(record.value)
        if not value["source"].startswith(source_prefix):
            continue
        (dead if "reason" in value else raw).append(value)
    return raw, dead


def test_http_door_answers_every_hostile_body_and_accounts_for_it(broker, ingest):
    service, prefix = ingest
    statuses = []
    with httpx.Client(base_url=service.url, timeout=30) as client:
        for body in HOSTILE_BODIES:
            response = client.post("/v1/messages", content=body,
                                   headers={"content-type": "application/json"})
            statuses.append(response.status_code)
            assert response.status_code in (202, 400, 413), response.text
            payload = response.json()
            if response.status_code != 202:
                assert payload["status"] == "rejected" and payload["reason"]
        assert client.get("/healthz").status_code == 200
    # Every body but a 413 leaves one record (raw or a dead letter); _read_all reads a
    # second longer, so one more would show.
    records = asyncio.run(_read_all(
        broker.bootstrap, [topics.RAW.name(prefix), topics.DEAD_LETTERS.name(prefix)],
        len(statuses) - statuses.count(413), source_prefix="http"))
    raw, dead = _split(records, "http")
    assert len(raw) == statuses.count(202)
    # Bodies over the size limit are refused at the door (413) without being read, so
    # they are the only rejections that leave no dead letter.
    assert 413 in statuses
    assert len(dead) == len(statuses) - statuses.count(202) - statuses.count(413)
    # A dead letter keeps the exact original bytes, so it can be replayed after a fix.
    originals = {base64.b64decode(letter["original_b64"]) for letter in dead}
    assert b"\xff\xfe\xfd" in originals


def test_topic_door_accounts_for_every_hostile_record(broker, ingest):
    service, prefix = ingest

    async def produce():
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for body in HOSTILE_BODIES:
                await producer.send_and_wait(topics.EVENTS.name(prefix), body)
        finally:
            await producer.stop()

    asyncio.run(produce())
    records = asyncio.run(_read_all(
        broker.bootstrap, [topics.RAW.name(prefix), topics.DEAD_LETTERS.name(prefix)],
        len(HOSTILE_BODIES), source_prefix="topic:"))
    raw, dead = _split(records, "topic:")
    assert len(raw) + len(dead) == len(HOSTILE_BODIES)
    assert {letter["reason"] for letter in dead} >= {
        "malformed_json", "invalid_utf8", "too_deeply_nested", "missing_text", "bad_timestamp"}
    assert service.ready()


def test_a_non_python_client_can_produce_to_the_input_topic(broker, ingest):
    # librdkafka (confluent-kafka; what kcat and most non-Python clients are built on) on
    # Kafka. It cannot talk to the embedded broker at all (its ApiVersions answer fails
    # librdkafka's parser; broker_compat (g)), so there Tansu's own Rust client
    # (`tansu cat produce`) stands in.
    service, prefix = ingest
    event = {"id": "cli_1", "type": "update", "text": "sent by a non-Python client #cli",
             "timestamp": "2025-07-06T13:35:15Z"}
    if broker.flavor == "kafka":
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
        producer.produce(topics.EVENTS.name(prefix), key=b"cli_1",
                         value=json.dumps(event).encode())
        assert producer.flush(30) == 0
    else:
        line = json.dumps({"key": "cli_1", "value": event})
        subprocess.run(
            [broker_binary(), "cat", "produce", topics.EVENTS.name(prefix),
             "--broker", f"tcp://{broker.bootstrap}"],
            input=line.encode(), check=True, timeout=30,
        )
    records = asyncio.run(_read_all(broker.bootstrap, [topics.RAW.name(prefix)], 1,
                                    timeout=30, keys={b"cli_1"}))
    matching = [json.loads(r.value) for r in records if r.key == b"cli_1"]
    assert len(matching) == 1
    assert matching[0]["text"] == "sent by a non-Python client #cli"
    assert matching[0]["event_time"] == 1751808915.0
    assert matching[0]["source"] == f"topic:{topics.EVENTS.name(prefix)}"


def test_http_batch_and_legacy_endpoints(ingest):
    service, _ = ingest
    with httpx.Client(base_url=service.url, timeout=30) as client:
        batch = client.post("/v1/messages:batch", json=[
            {"id": "b1", "text": "ok"}, {"id": "b2", "type": "explode", "text": "x"},
            {"text": "bare"},
        ])
        assert batch.status_code == 200
        body = batch.json()
        assert (body["accepted"], body["rejected"]) == (2, 1)
        assert body["results"][1] == {"index": 1, "status": "rejected", "reason": "unknown_type",
                                      "detail": body["results"][1]["detail"]}
        legacy = client.post("/api/submit-message", json={"message": "hello there"})
        assert legacy.status_code == 202 and legacy.json()["id"].startswith("msg_")
        assert client.post("/api/submit-message", json={"msg": 1}).status_code == 400
        too_many = client.post("/v1/messages:batch", json=[{"text": "x"}] * 1_001)
        assert too_many.status_code == 413
        assert too_many.json()["reason"] == "batch_too_large"
        spec = client.get("/openapi.json").json()
        assert set(spec["paths"]) >= {"/v1/messages", "/v1/messages:batch", "/api/submit-message"}


def test_a_large_batch_gets_every_language_from_the_worker_in_order(broker, ingest):
    # A batch of >= INGEST_LANGUAGE_WORKER_MIN_BATCH items is detected in the child
    # process, chunk by chunk; every record must get its own text's language, in order,
    # with rejected items in between.
    from moodstream_ingest.language import detect
    from tests.corpus.languages import SENTENCES

    service, prefix = ingest
    texts = [text for sentences in SENTENCES.values() for text in sentences]

    def batch(round_: int) -> list[dict]:
        items = []
        for index, text in enumerate(texts * 3):
            items.append({"id": f"lw{round_}_{index}", "text": text})
            if index % 17 == 0:
                items.append({"id": f"bad{round_}_{index}", "type": "explode", "text": "x"})
        return items

    with httpx.Client(base_url=service.url, timeout=30) as client:
        # The first large batch starts the child (and is detected inline meanwhile).
        first = batch(0)
        assert client.post("/v1/messages:batch", json=first).status_code == 200
        deadline = time.monotonic() + 60
        while not re.search(r"language worker \d+ ready", service.log_path.read_text("utf-8", "replace")):
            assert time.monotonic() < deadline, "the language worker did not start"
            time.sleep(0.05)
        second = batch(1)
        body = client.post("/v1/messages:batch", json=second).json()
        assert body["rejected"] == sum(1 for item in second if item.get("type") == "explode")
    expected = {item["id"]: item["text"] for item in first + second if "type" not in item}
    records = asyncio.run(_read_all(broker.bootstrap, [topics.RAW.name(prefix)], len(expected),
                                    keys={key.encode() for key in expected}))
    got = [json.loads(r.value) for r in records if r.key and r.key.decode() in expected]
    assert len(got) == len(expected)
    for record in got:
        found = detect(record["text"])
        assert (record["language"], record["language_confidence"]) == tuple(found), record
    assert {r["language"] for r in got} >= {"en", "fr", "es", "de", "ko", "ja", "ar"}
    assert "language worker failed" not in service.log_path.read_text("utf-8", "replace")
