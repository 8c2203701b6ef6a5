"""A service's input topic read in batches with a plain aiokafka consumer, committed after.

Why not a Faust agent: Faust hands records to an agent one at a time, through its
consumer thread, conductor and stream buffer, and decodes each into a Record on the way.
That held ingest's topic door to 0.6x its HTTP door on the same validation
(``bench.ingest_throughput``) and cost the analyzer's event loop the CPU its model
threads needed (``bench.analyzer_throughput``). ``getmany`` hands over a batch in one
call.

The delivery rule is the one the README's "How it stays correct" states: a batch's
offsets are committed only after ``publish`` returned for it, that is after everything
the batch produced is acknowledged by the broker. A worker killed at any point reads its
uncommitted batches again (at least once); downstream, aggregates are idempotent per
message id. A partition taken away in a rebalance is released only after the batch in
hand is handled and committed, so its new owner does not send the same records at the
same time.

Each reader has a consumer group of its own (:meth:`BrokerSettings.input_group`): the
Faust app keeps its group for its leader topic, and two consumers with different
assignors cannot share one. A partition that group never committed starts where the
Faust-era agent's group left it (:class:`CarryOverOffsets`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from moodstream_common.faust_app import client_settings, group_settings
from moodstream_common.log_throttle import ThrottleRepeats
from moodstream_common.settings import BrokerSettings

log = logging.getLogger("moodstream.input")
# A failed commit is retried every poll while the broker is away: say so every 10 s.
commit_log = logging.getLogger("moodstream.input.commit")
commit_log.addFilter(ThrottleRepeats())

Batch = list[Any]
"""The records of one ``getmany`` (aiokafka ``ConsumerRecord``s), in partition order."""
Prepared = TypeVar("Prepared")


async def committed_offsets(
    broker: BrokerSettings, topic: str, group: str
) -> dict[TopicPartition, int]:
    """Offsets ``group`` committed on ``topic`` ({} when none, or it cannot be asked).

    Asked through a consumer of that group that never joins it (``committed`` needs
    only the coordinator): Tansu's OffsetFetch answer to aiokafka's admin client does
    not parse.
    """
    reader = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **client_settings(broker))
    carried: dict[TopicPartition, int] = {}
    try:
        await reader.start()
        # Every topic's metadata: the consumer's own holds only the topics it subscribes
        # to (none), so on Kafka partitions_for_topic answered None and nothing was
        # carried over (the embedded broker lists every topic in every answer).
        metadata = await reader._client.fetch_all_metadata()  # noqa: SLF001  no public call
        for partition in sorted(metadata.partitions_for_topic(topic) or ()):
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


class CarryOverOffsets(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Hands partitions over cleanly, and starts the ones this group never committed
    where the Faust-era group left them.

    On revocation it waits for the batch in hand and commits it (``settle``), so the
    next owner starts after it. On assignment a partition with no commit of this group
    is sought to ``carried`` (the Faust-era offsets), so an upgrade from the agent
    neither reads the topic again from the start nor skips what the agent had not
    committed.
    """

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        carried: dict[TopicPartition, int],
        carried_from: str,
        settle: Callable[[], Awaitable[None]],
    ) -> None:
        self.consumer = consumer
        self.carried = carried
        self.carried_from = carried_from
        self.settle = settle

    async def on_partitions_revoked(self, revoked: object) -> None:
        """Finish and commit the batch in hand before the partitions go."""
        await self.settle()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        """Seek each newly owned partition with no commit of its own to the carried one."""
        candidates = [tp for tp in assigned if tp in self.carried]
        if not candidates:
            return
        # Held while their commits are looked up (a round trip each): otherwise the fetcher
        # starts them at auto_offset_reset meanwhile and getmany hands out records the
        # carried offset skips. Seen on Kafka, where the lookups take long enough.
        self.consumer.pause(*candidates)
        try:
            for tp in candidates:
                if await self.consumer.committed(tp) is None:
                    log.info("%s starts at offset %d, where group %s left it",
                             tp, self.carried[tp], self.carried_from)
                    self.consumer.seek(tp, self.carried[tp])
        finally:
            self.consumer.resume(*candidates)


_running: list[InputBatches[Any]] = []


def running_readers() -> list[InputBatches[Any]]:
    """The input readers running in this process (for readiness and the lag gauge)."""
    return list(_running)


class InputBatches(Generic[Prepared]):
    """Reads ``topic`` in group ``group`` in batches, hands each to ``prepare`` and then
    ``publish``, and commits a batch once it is published.

    ``prepare(records)`` starts a batch's work without producing anything (the
    analyzer queues its model calls); ``publish(prepared)`` must return only once
    everything the batch produced is acknowledged (or raise, which stops the reader
    with nothing committed for it). Batch ``n + 1`` is fetched and prepared before
    batch ``n`` is published, so its work runs while ``n`` is sent, acknowledged and
    committed; it is published only after that, so records leave in offset order.
    ``carry_from`` names the Faust-era group whose offsets start partitions this group
    never committed.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        topic: str,
        *,
        group: str,
        carry_from: str,
        prepare: Callable[[Batch], Awaitable[Prepared]],
        publish: Callable[[Prepared], Awaitable[None]],
        max_records: int,
        wait_seconds: float,
    ) -> None:
        self.broker = broker
        self.topic = topic
        self.group = group
        self.carry_from = carry_from
        self.prepare = prepare
        self.publish = publish
        self.max_records = max_records
        self.wait_seconds = wait_seconds
        self._uncommitted: dict[TopicPartition, int] = {}
        self._prepared: tuple[dict[TopicPartition, int], Prepared] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._in_hand = asyncio.Lock()

    async def run(self) -> None:
        """Read, prepare, publish and commit batches until cancelled."""
        consumer = AIOKafkaConsumer(
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **client_settings(self.broker),
            **group_settings(self.broker),
        )
        self._consumer = consumer
        carried = await committed_offsets(self.broker, self.topic, self.carry_from)
        consumer.subscribe(
            [self.topic],
            listener=CarryOverOffsets(consumer, carried, self.carry_from, self._settle),
        )
        await consumer.start()
        _running.append(self)
        try:
            while True:
                # With a batch prepared, take only what is already fetched: the prepared
                # batch must not wait for more records to arrive.
                wait = 0 if self._prepared is not None else self.wait_seconds
                fetched = await consumer.getmany(
                    timeout_ms=int(wait * 1000), max_records=self.max_records
                )
                async with self._in_hand:
                    # A rebalance may have taken partitions between the fetch and now:
                    # their new owner reads those records from the last commit.
                    owned = consumer.assignment()
                    fetched = {tp: batch for tp, batch in fetched.items() if batch and tp in owned}
                    records = [record for batch in fetched.values() for record in batch]
                    upcoming = None
                    if records:
                        offsets = {tp: batch[-1].offset + 1 for tp, batch in fetched.items()}
                        upcoming = (offsets, await self.prepare(records))
                    await self._publish_prepared()
                    self._prepared = upcoming
                    await self._commit()
        finally:
            _running.remove(self)
            await consumer.stop()

    def assignment(self) -> set[TopicPartition]:
        """The partitions this reader holds now."""
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    async def lag(self) -> dict[TopicPartition, int]:
        """Records behind the high watermark, per partition held (where both are known)."""
        lags: dict[TopicPartition, int] = {}
        if self._consumer is None:
            return lags
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                lags[tp] = max(0, highwater - await self._consumer.position(tp))
        return lags

    async def _publish_prepared(self) -> None:
        if self._prepared is not None:
            offsets, prepared = self._prepared
            self._prepared = None
            await self.publish(prepared)
            self._uncommitted.update(offsets)

    async def _commit(self) -> None:
        if not self._uncommitted or self._consumer is None:
            return
        # Offsets of partitions no longer owned cannot be committed by this member; the
        # owner reads those records again from the last commit (at least once).
        owned = self._consumer.assignment()
        offsets = {tp: offset for tp, offset in self._uncommitted.items() if tp in owned}
        if not offsets or await commit(self._consumer, offsets):
            self._uncommitted.clear()

    async def _settle(self) -> None:
        # Called by aiokafka while partitions are revoked (still owned until it returns):
        # the batch in hand and the prepared one are published and committed first.
        async with self._in_hand:
            await self._publish_prepared()
            await self._commit()
