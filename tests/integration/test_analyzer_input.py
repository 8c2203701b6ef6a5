"""The analyzer reads ``raw`` in batches and commits only what reached ``scored``, on the
real broker, with the real model.

- An upgrade from the Faust-agent analyzer starts where the agent's group left off.
- A record on ``raw`` that is no raw message goes to dead letters with its reason and
  bytes; the records around it are scored.
- SIGKILL while the analyzer is busy loses no record: every one sent reaches ``scored``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from moodstream_analyzer.model import DEFAULT_MODEL_DIR
from moodstream_common import topics
from moodstream_common.records import RawMessage
from moodstream_common.settings import BrokerSettings
from moodstream_dev.broker import create_topics
from moodstream_dev.processes import ServiceProcess, local_service
from tests.helpers import group_caught_up, kill_and_restart

pytestmark = pytest.mark.integration

GARBAGE = b"\xff not a raw message"


def _analyzer(broker, prefix, state) -> ServiceProcess:
    return local_service("analyzer", broker, state, topic_prefix=prefix,
                         extra={"ANALYZER_MODEL_PATH": str(DEFAULT_MODEL_DIR.resolve())})


async def _produce(bootstrap: str, topic: str, values: list[tuple[str, bytes]]) -> dict[int, int]:
    """Send each (key, value) in paced bursts; returns each partition's end offset after."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    ends: dict[int, int] = {}
    try:
        for start in range(0, len(values), 200):
            sent = [
                await producer.send(topic, value, key=key.encode())
                for key, value in values[start : start + 200]
            ]
            for meta in await asyncio.gather(*sent):
                ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    finally:
        await producer.stop()
    return ends


def _raw(ids: list[str]) -> list[tuple[str, bytes]]:
    now = time.time()
    return [
        (i, RawMessage(id=i, type="update", text="fine, thanks", event_time=now,
                       received_at=now).dumps())
        for i in ids
    ]


async def _commit_as(bootstrap: str, group: str, topic: str, ends: dict[int, int]) -> None:
    """Commit ``ends`` on ``topic`` for ``group``, as the Faust agent's group had."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in ends])
        await consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "")
                               for p, o in ends.items()})
    finally:
        await consumer.stop()


class Reader:
    """Every record of ``topic`` seen so far, decoded as JSON, with counts by ``field``."""

    def __init__(self, bootstrap: str, topic: str, field: str):
        self.consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                         auto_offset_reset="earliest", fetch_max_wait_ms=100)
        self.field = field
        self.counts: dict[str, int] = {}
        self.records: list[dict] = []

    async def read(self, seconds: float) -> dict[str, int]:
        batch = await self.consumer.getmany(timeout_ms=int(seconds * 1000))
        for records in batch.values():
            for record in records:
                value = json.loads(record.value)
                self.records.append(value)
                key = str(value.get(self.field))
                self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts

    async def until(self, done, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done() and loop.time() < deadline:
            await self.read(0.5)


def test_the_upgrade_starts_where_the_agent_left_off_and_garbage_is_dead_lettered(
    broker, topic_prefix, tmp_path
):
    raw, scored = topics.RAW.name(topic_prefix), topics.SCORED.name(topic_prefix)
    dead = topics.DEAD_LETTERS.name(topic_prefix)
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=topic_prefix)
    old = [f"old-{i}" for i in range(40)]
    new = [f"new-{i}" for i in range(40)]

    async def before_upgrade() -> None:
        ends = await _produce(broker.bootstrap, raw, _raw(old))
        await _commit_as(broker.bootstrap, f"{topic_prefix}moodstream-analyzer", raw, ends)
        await _produce(broker.bootstrap, raw, [*_raw(new[:20]), ("junk", GARBAGE),
                                               *_raw(new[20:])])

    asyncio.run(before_upgrade())
    analyzer = _analyzer(broker, topic_prefix, tmp_path)
    analyzer.start()
    try:
        analyzer.wait_ready(120)

        async def read() -> tuple[Reader, Reader]:
            scored_reader = Reader(broker.bootstrap, scored, "id")
            dead_reader = Reader(broker.bootstrap, dead, "reason")
            await scored_reader.consumer.start()
            await dead_reader.consumer.start()
            try:
                await scored_reader.until(lambda: set(new) <= set(scored_reader.counts), 120)
                await dead_reader.until(lambda: bool(dead_reader.records), 60)
                await scored_reader.read(1.0)
                return scored_reader, dead_reader
            finally:
                await scored_reader.consumer.stop()
                await dead_reader.consumer.stop()

        scored_reader, dead_reader = asyncio.run(read())
        # It commits in the group a replay rewinds (`moodstream replay --service analyzer`).
        group = BrokerSettings(topic_prefix=topic_prefix).input_group("analyzer")
        group_caught_up(broker.bootstrap, group, raw, timeout=60)
    finally:
        analyzer.stop()
    seen = scored_reader.counts
    assert set(new) <= set(seen), sorted(set(new) - set(seen))
    # In each partition the old records come first, so any re-read one is in by now.
    assert not set(old) & set(seen), sorted(set(old) & set(seen))
    assert "junk" not in seen
    [letter] = dead_reader.records
    assert letter["reason"] == "undecodable_raw_record"
    assert letter["service"] == "analyzer"
    assert base64.b64decode(letter["original_b64"]) == GARBAGE
    assert letter["message_id"] == "junk"


def test_no_record_is_lost_when_the_analyzer_is_killed_mid_stream(
    broker, topic_prefix, tmp_path
):
    raw, scored = topics.RAW.name(topic_prefix), topics.SCORED.name(topic_prefix)
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=topic_prefix)
    ids = [f"k-{i}" for i in range(3_000)]
    analyzer = _analyzer(broker, topic_prefix, tmp_path)
    analyzer.start()
    analyzer.wait_ready(120)

    async def run() -> dict[str, int]:
        reader = Reader(broker.bootstrap, scored, "id")
        await reader.consumer.start()
        try:
            sending = asyncio.ensure_future(_produce(broker.bootstrap, raw, _raw(ids)))
            # Kill once it is part-way through, with batches prepared and in flight.
            await reader.until(lambda: len(reader.counts) >= 500, 120)
            assert len(reader.counts) >= 500, "the analyzer never got going"
            await kill_and_restart(analyzer, ready_timeout=120)
            await sending
            await reader.until(lambda: len(reader.counts) >= len(ids), 240)
            return reader.counts
        finally:
            await reader.consumer.stop()

    try:
        seen = asyncio.run(run())
    finally:
        analyzer.stop()
    missing = sorted(set(ids) - set(seen))
    assert not missing, f"{len(missing)} records never reached scored, e.g. {missing[:5]}"
