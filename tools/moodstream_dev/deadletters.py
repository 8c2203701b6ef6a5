"""Inspect the dead-letter topic and replay its records after a fix.

``moodstream dead-letters show [--reason R]`` prints a summary by reason and source
and the newest records; ``moodstream dead-letters replay [--reason R] [--source S]``
re-sends each record's *original bytes* to the input topic (``events``), where the
fixed ingest validates them again: accepted ones reach ``raw``, the rest come back as
new dead letters. Replayed records carry a ``moodstream-replayed-from`` header with
the dead letter's offset, so a replay can be traced.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tqdm import tqdm

from moodstream_dev.replay import partitions_of


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter with where it sits in the topic."""

    partition: int
    offset: int
    letter: dict[str, Any]

    @property
    def original(self) -> bytes:
        """The bytes that were rejected."""
        return base64.b64decode(self.letter.get("original_b64") or "")


async def read_all(bootstrap: str, topic: str) -> list[DeadLetterEntry]:
    """Every record of the dead-letter topic, oldest first per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(await partitions_of(consumer, topic))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        entries: list[DeadLetterEntry] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1_000)
            if not batch:
                break
            for tp, records in batch.items():
                for record in records:
                    entries.append(
                        DeadLetterEntry(tp.partition, record.offset, json.loads(record.value))
                    )
        return entries
    finally:
        await consumer.stop()


def select(
    entries: list[DeadLetterEntry], reason: str | None = None, source: str | None = None
) -> Iterator[DeadLetterEntry]:
    """Entries matching ``reason`` and ``source`` (a prefix), when given."""
    for entry in entries:
        if reason and entry.letter.get("reason") != reason:
            continue
        if source and not str(entry.letter.get("source", "")).startswith(source):
            continue
        yield entry


def summary(entries: list[DeadLetterEntry]) -> dict[str, dict[str, int]]:
    """Counts by reason and by source."""
    return {
        "by_reason": dict(Counter(e.letter.get("reason", "?") for e in entries).most_common()),
        "by_source": dict(Counter(e.letter.get("source", "?") for e in entries).most_common()),
    }


async def replay(
    bootstrap: str, entries: list[DeadLetterEntry], events_topic: str, *, progress: bool = True
) -> int:
    """Re-send the original bytes of ``entries`` to ``events_topic``; returns the count."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent = 0
    try:
        for entry in tqdm(entries, unit="rec", desc="replay dead letters", disable=not progress):
            origin = f"{entry.partition}:{entry.offset}".encode()
            await producer.send_and_wait(
                events_topic, entry.original, headers=[("moodstream-replayed-from", origin)]
            )
            sent += 1
    finally:
        await producer.stop()
    return sent
