"""Ingest's input-topic door.

Reads: ``events`` (JSON bytes from any Kafka producer, e.g. kcat).
Writes: ``raw`` (normalized :class:`RawMessage`, keyed by message id) and
``dead-letters`` (anything that could not be accepted, with the reason and bytes).

The door reads with a plain aiokafka consumer, not a Faust agent. Faust hands records
to an agent one at a time, through its consumer thread, conductor and stream buffer:
that held the door to 0.6× the HTTP door on the same validation
(``bench.ingest_throughput``). ``getmany`` hands over a batch in one call. Offsets
are committed only after the batch's records are in the broker: at least once, and a
batch read again is absorbed downstream, where aggregates are idempotent per message id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from moodstream_common import broker_compat
from moodstream_common.backoff import retrying
from moodstream_common.faust_app import client_settings
from moodstream_common.log_throttle import ThrottleRepeats
from moodstream_common.tracing import batch_links, extract_context, tracer
from moodstream_ingest.app import app, events_topic, settings
from moodstream_ingest.intake import BrokerUnavailable, Item, Outcome, accept, item_from_body

SOURCE = f"topic:{events_topic.get_topic_name()}"
log = logging.getLogger("moodstream.ingest.topic")
# A failed commit is retried every poll while the broker is away: say so every 10 s.
commit_log = logging.getLogger("moodstream.ingest.topic.commit")
commit_log.addFilter(ThrottleRepeats())


def events_group() -> str:
    """The consumer group of the input-topic door."""
    return settings.broker.input_group("ingest")


def faust_era_group() -> str:
    """The group that read ``events`` when the door was a Faust agent (the app's own)."""
    return settings.broker.app_id("ingest")


async def accept_until_taken(
    items: Sequence[Item],
    *,
    accept_batch: Callable[[Sequence[Item]], Awaitable[list[Outcome]]],
    delays: Iterator[float] | None = None,
) -> list[Outcome]:
    """``accept_batch(items)``, again with backoff for as long as the broker is away.

    The HTTP door answers 503 and lets the client retry; the topic door has no client
    to ask, and must not give up on a batch: its offsets would be committed with the
    next batch's without the records reaching ``raw``. A retried batch may land twice;
    downstream is idempotent per message id.
    """
    return await retrying(
        lambda: accept_batch(items),
        retry_on=(BrokerUnavailable,),
        log=log,
        failed=lambda exc: f"{exc}; holding the batch of {len(items)}",
        delays=delays,
    )


async def faust_era_offsets(group: str) -> dict[TopicPartition, int]:
    """Offsets ``group`` committed on ``events`` ({} when none, or it cannot be asked).

    Asked through a consumer of that group that never joins it (``committed`` needs
    only the coordinator): Tansu's OffsetFetch answer to aiokafka's admin client does
    not parse.
    """
    topic = events_topic.get_topic_name()
    reader = AIOKafkaConsumer(
        group_id=group, enable_auto_commit=False, **client_settings(settings.broker)
    )
    carried: dict[TopicPartition, int] = {}
    try:
        await reader.start()
        await reader.topics()  # fetches the metadata partitions_for_topic reads
        for partition in sorted(reader.partitions_for_topic(topic) or ()):
            tp = TopicPartition(topic, partition)
            offset = await reader.committed(tp)
            if offset is not None and offset >= 0:
                carried[tp] = offset
    except KafkaError as exc:
        log.warning("could not read the offsets of group %s (%s); none carried over", group, exc)
        return {}
    finally:
        await reader.stop()
    return carried


class CarryOverOffsets(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Starts a partition the door's group never committed where the Faust-era group
    left it, so the upgrade from the agent neither reads ``events`` again from the
    start nor skips what the agent had not committed."""

    def __init__(self, consumer: AIOKafkaConsumer, carried: dict[TopicPartition, int]):
        self.consumer = consumer
        self.carried = carried

    async def on_partitions_revoked(self, revoked: object) -> None:
        """Nothing to do: every batch commits as soon as ``raw`` has it."""

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        """Seek each newly owned partition with no commit of its own to the carried one."""
        for tp in assigned:
            if tp in self.carried and await self.consumer.committed(tp) is None:
                log.info("%s starts at offset %d, where group %s left it",
                         tp, self.carried[tp], faust_era_group())
                self.consumer.seek(tp, self.carried[tp])


async def commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> bool:
    """Commit ``offsets``; False when it must be tried again with the next batch.

    A commit refused after a rebalance is dropped: the partition's new owner reads
    those records again (at least once). Any other failure (broker away) is kept and
    retried, merged with later offsets, since offsets only move forward.
    """
    try:
        await consumer.commit(offsets)
    except CommitFailedError as exc:
        commit_log.warning("offsets refused after a rebalance (%s); the batch is read again", exc)
        return True
    except KafkaError as exc:
        commit_log.warning("offsets not committed (%s); retrying with the next batch", exc)
        return False
    return True


@app.task  # type: ignore[untyped-decorator]  # Faust leaves its decorators untyped
async def intake_events() -> None:
    """Normalize input events in batches into ``raw`` or dead letters, until stopped."""
    await events_topic.maybe_declare()
    consumer = AIOKafkaConsumer(
        group_id=events_group(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_settings(settings.broker),
        **broker_compat.consumer_settings(settings.broker.broker_flavor),
    )
    carried = await faust_era_offsets(faust_era_group())
    consumer.subscribe(
        [events_topic.get_topic_name()], listener=CarryOverOffsets(consumer, carried)
    )
    await consumer.start()
    uncommitted: dict[TopicPartition, int] = {}
    try:
        while True:
            fetched = await consumer.getmany(
                timeout_ms=int(settings.topic_batch_wait_seconds * 1000),
                max_records=settings.topic_batch_size,
            )
            records = [record for batch in fetched.values() for record in batch]
            if records:
                links = batch_links(extract_context(record.headers) for record in records)
                with tracer().start_as_current_span("moodstream.ingest.topic", links=links):
                    items = [item_from_body(record.value or b"") for record in records]
                    await accept_until_taken(
                        items, accept_batch=lambda batch: accept(batch, source=SOURCE)
                    )
                uncommitted.update({tp: batch[-1].offset + 1 for tp, batch in fetched.items()})
            if uncommitted and await commit(consumer, uncommitted):
                uncommitted.clear()
    finally:
        await consumer.stop()
