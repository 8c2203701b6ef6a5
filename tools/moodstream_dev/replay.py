"""Reprocess a topic: move a service's consumer group back to an offset or a time.

``moodstream replay --service analyzer --topic raw --from 2025-07-06T13:00:00Z``

How it works, on the embedded broker and on Redpanda/Kafka alike: the service's
consumer group (its Faust app id) must be *stopped* (Kafka refuses offset changes for
a group with live members, as ``kafka-consumer-groups --reset-offsets`` does); the
tool commits the chosen start offsets for that group, and the service, once
restarted, reprocesses from there. ``--follow`` then shows progress until the group
has caught up again.

Replays never double count: the aggregator keeps each message's contribution and
applies an event only when it changes it (see moodstream_aggregator.contributions).
A new model version changes labels, so re-scored messages replace their old counts.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tqdm import tqdm


class ReplayError(RuntimeError):
    """A replay that cannot be done safely (group still running, unknown topic...)."""


@dataclass(frozen=True)
class ReplayPlan:
    """Where each partition restarts and how much will be reprocessed."""

    group: str
    topic: str
    start: dict[int, int]
    end: dict[int, int]

    @property
    def records(self) -> int:
        """Records that will be reprocessed."""
        return sum(self.end[p] - self.start[p] for p in self.start)


def parse_from(value: str) -> tuple[str, float | int | None]:
    """``earliest`` | ``latest`` | ``offset:N`` | ISO-8601 time | epoch seconds."""
    if value in ("earliest", "latest"):
        return value, None
    if value.startswith("offset:"):
        return "offset", int(value.split(":", 1)[1])
    try:
        return "time", float(value)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return "time", parsed.timestamp()


async def _first_offset_at(
    consumer: AIOKafkaConsumer, tp: TopicPartition, low: int, high: int, at_ms: int
) -> int:
    """Smallest offset in ``[low, high)`` whose record timestamp is >= ``at_ms``.

    Binary search by fetching single records: used where the broker does not answer
    ListOffsets by timestamp (the embedded broker returns offset 0, timestamp -1).
    Assumes timestamps grow with offsets, as producer (create) time does here.
    """
    while low < high:
        middle = (low + high) // 2
        consumer.seek(tp, middle)
        batch = await consumer.getmany(tp, timeout_ms=2_000, max_records=1)
        records = batch.get(tp, [])
        if not records:
            raise ReplayError(f"could not read {tp.topic}[{tp.partition}] at offset {middle}")
        if records[0].timestamp >= at_ms:
            high = middle
        else:
            low = records[0].offset + 1
    return low


async def plan(bootstrap: str, group: str, topic: str, start_at: str) -> ReplayPlan:
    """Work out the start offsets for ``group`` on ``topic`` (reads, commits nothing)."""
    how, value = parse_from(start_at)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        begin = await consumer.beginning_offsets(tps)
        end = await _end_offsets(consumer, tps)
        start: dict[int, int] = {}
        for tp in tps:
            if how == "earliest":
                start[tp.partition] = begin[tp]
            elif how == "latest":
                start[tp.partition] = end[tp.partition]
            elif how == "offset":
                start[tp.partition] = max(begin[tp], min(int(value or 0), end[tp.partition]))
            else:
                at_ms = int(float(value or 0) * 1000)
                found = (await consumer.offsets_for_times({tp: at_ms})).get(tp)
                if found is not None and found.timestamp >= 0:
                    start[tp.partition] = found.offset
                else:
                    start[tp.partition] = await _first_offset_at(
                        consumer, tp, begin[tp], end[tp.partition], at_ms
                    )
        return ReplayPlan(group, topic, start, {tp.partition: end[tp.partition] for tp in tps})
    finally:
        await consumer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """Partition numbers of ``topic`` (asks the broker; the consumer need not subscribe)."""
    metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001  no public call
    partitions = metadata.partitions_for_topic(topic)
    if not partitions:
        raise ReplayError(f"topic {topic!r} does not exist")
    return set(partitions)


async def _end_offsets(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> dict[int, int]:
    """End offsets (on the embedded broker, correct once broker_compat is applied)."""
    listed = await consumer.end_offsets(tps)
    return {tp.partition: listed[tp] for tp in tps}


async def ensure_group_stopped(bootstrap: str, group: str) -> None:
    """Raise :class:`ReplayError` unless ``group`` has no live members."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    for response in described:
        for _error, name, state, *_rest, members in response.groups:
            if name == group and members:
                raise ReplayError(
                    f"consumer group {group!r} is {state} with {len(members)} member(s): "
                    "stop the service first (offsets of a live group cannot be changed)"
                )


async def commit(bootstrap: str, replay: ReplayPlan) -> None:
    """Commit ``replay.start`` as the group's offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=replay.group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        offsets = {TopicPartition(replay.topic, p): offset for p, offset in replay.start.items()}
        consumer.assign(list(offsets))  # aiokafka commits only for assigned partitions
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def follow(bootstrap: str, replay: ReplayPlan, timeout: float) -> int:
    """Show progress until the (restarted) group's offsets reach the planned end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=replay.group, enable_auto_commit=False
    )
    await consumer.start()
    done = 0
    try:
        tps = [TopicPartition(replay.topic, p) for p in replay.start]
        consumer.assign(tps)
        deadline = time.monotonic() + timeout
        with tqdm(total=replay.records, unit="rec", desc=f"replay {replay.topic}") as bar:
            while time.monotonic() < deadline:
                committed = {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
                done = sum(
                    max(0, min(committed[p], replay.end[p]) - replay.start[p])
                    for p in replay.start
                )
                bar.update(done - bar.n)
                if done >= replay.records:
                    break
                await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
    return done
