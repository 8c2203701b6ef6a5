"""The input-topic door commits what reached ``raw`` and nothing else, on the real broker.

- An upgrade from the Faust-agent door starts where the agent's group left off: events
  it had committed are not read again, events after it are.
- SIGKILL while the door is busy loses no event: every one sent reaches ``raw``.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from moodstream_common import topics
from moodstream_common.settings import BrokerSettings
from moodstream_dev.broker import create_topics
from moodstream_dev.processes import ServiceProcess, local_service
from tests.helpers import group_caught_up, kill_and_restart

pytestmark = pytest.mark.integration


def _ingest(broker, prefix, state) -> ServiceProcess:
    return local_service("ingest", broker, state, topic_prefix=prefix)


async def _produce(bootstrap: str, topic: str, ids: list[str]) -> dict[int, int]:
    """Send one event per id, keyed by id; returns each partition's end offset after."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    ends: dict[int, int] = {}
    try:
        for start in range(0, len(ids), 200):  # a paced stream, not one burst
            sent = [
                await producer.send(
                    topic,
                    json.dumps({"id": i, "user_id": "u", "text": "fine, thanks"}).encode(),
                    key=i.encode(),
                )
                for i in ids[start : start + 200]
            ]
            for meta in await asyncio.gather(*sent):
                ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    finally:
        await producer.stop()
    return ends


async def _commit_as(bootstrap: str, group: str, topic: str, ends: dict[int, int]) -> None:
    """Commit ``ends`` on ``topic`` for ``group``, as the Faust agent's group had."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in ends]
        consumer.assign(partitions)
        await consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "")
                               for p, o in ends.items()})
    finally:
        await consumer.stop()


class RawIds:
    """Every message id seen in ``raw`` so far, with how often."""

    def __init__(self, bootstrap: str, topic: str):
        self.consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                         auto_offset_reset="earliest", fetch_max_wait_ms=100)
        self.counts: dict[str, int] = {}

    async def read(self, seconds: float) -> dict[str, int]:
        batch = await self.consumer.getmany(timeout_ms=int(seconds * 1000))
        for records in batch.values():
            for record in records:
                message_id = json.loads(record.value)["id"]
                self.counts[message_id] = self.counts.get(message_id, 0) + 1
        return self.counts


def test_the_upgrade_from_the_agent_starts_where_its_group_left_off(
    broker, topic_prefix, tmp_path
):
    events, raw = topics.EVENTS.name(topic_prefix), topics.RAW.name(topic_prefix)
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=topic_prefix)
    old = [f"old-{i}" for i in range(40)]
    new = [f"new-{i}" for i in range(40)]

    async def before_upgrade() -> None:
        ends = await _produce(broker.bootstrap, events, old)
        await _commit_as(broker.bootstrap, f"{topic_prefix}moodstream-ingest", events, ends)
        await _produce(broker.bootstrap, events, new)

    asyncio.run(before_upgrade())
    ingest = _ingest(broker, topic_prefix, tmp_path)
    ingest.start()
    try:
        ingest.wait_ready(60)

        async def read_until_new_are_in() -> dict[str, int]:
            reader = RawIds(broker.bootstrap, raw)
            await reader.consumer.start()
            try:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 90
                while not set(new) <= set(reader.counts) and loop.time() < deadline:
                    await reader.read(0.5)
                return await reader.read(1.0)
            finally:
                await reader.consumer.stop()

        seen = asyncio.run(read_until_new_are_in())
        # The door commits in the group a replay rewinds (`moodstream replay --service ingest`).
        group = BrokerSettings(topic_prefix=topic_prefix).input_group("ingest")
        group_caught_up(broker.bootstrap, group, events, timeout=60)
    finally:
        ingest.stop()
    assert set(new) <= set(seen), sorted(set(new) - set(seen))
    # In each partition the old events come first, so any re-read one is in by now.
    assert not set(old) & set(seen), sorted(set(old) & set(seen))


def test_no_event_is_lost_when_the_door_is_killed_mid_stream(broker, topic_prefix, tmp_path):
    events, raw = topics.EVENTS.name(topic_prefix), topics.RAW.name(topic_prefix)
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=topic_prefix)
    ids = [f"k-{i}" for i in range(6_000)]
    ingest = _ingest(broker, topic_prefix, tmp_path)
    ingest.start()
    ingest.wait_ready(60)

    async def run() -> dict[str, int]:
        reader = RawIds(broker.bootstrap, raw)
        await reader.consumer.start()
        try:
            sending = asyncio.ensure_future(_produce(broker.bootstrap, events, ids))
            loop = asyncio.get_running_loop()
            # Kill once the door is part-way through, while it has batches in flight.
            deadline = loop.time() + 120
            while len(await reader.read(0.2)) < 1_000 and loop.time() < deadline:
                pass
            assert len(reader.counts) >= 1_000, "the door never got going"
            await kill_and_restart(ingest, ready_timeout=60)
            await sending
            deadline = loop.time() + 180
            while len(reader.counts) < len(ids) and loop.time() < deadline:
                await reader.read(0.5)
            return reader.counts
        finally:
            await reader.consumer.stop()

    try:
        seen = asyncio.run(run())
    finally:
        ingest.stop()
    missing = sorted(set(ids) - set(seen))
    assert not missing, f"{len(missing)} events never reached raw, e.g. {missing[:5]}"
