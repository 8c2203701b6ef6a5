"""Three bugs of Faust's aiokafka consumer, fixed on every broker (``broker_compat`` holds
the embedded broker's own): :func:`install` wraps Faust's consumer thread once per process.

**A partition with nothing committed starts at its beginning, every time Faust seeks.**
Faust's consumer drops records it has fetched when they arrive at the wrong moment: for
a partition not active yet (recovery resumes partitions before it seeks them), or when
flow stops or the generation changes in the middle of a batch. It relies on its next
seek "to the committed offsets" to fetch them again. aiokafka's ``seek_to_committed``
only moves partitions whose committed offset is above 0, so a partition with nothing
committed stays where the dropped fetch left it, and those records are skipped for
good. That happens whenever a worker gets a partition no one has committed yet: the
first start, or a partition whose previous owner was killed before its first commit.
On Kafka it showed as a whole ``scored`` partition (95 records) that ingest's AMQP sink
never published after the other ingest worker was SIGKILLed
(``tests/e2e/test_amqp_pipeline.py``); stop 37 traced losses of the aggregator to the
same path. The fix does what ``auto_offset_reset="earliest"`` (Faust's default, and
Moodstream's) means for such a stream partition: read it from its start (changelog
partitions, which are never committed, stay where table recovery put them). Reading a partition
again is safe for every Faust agent here (the aggregator applies each source offset
once; the AMQP sink is at-least-once with stable message ids), and it costs only time:
nothing committed means little was read.

**A partition count of 0 is unknown, not a mismatch.** Faust checks that a table's
changelog has as many partitions as its source, using the group's metadata snapshot.
On Kafka a changelog topic Faust has just created is in that snapshot with 0
partitions for a moment (its metadata has not caught up), and the check crashed the
aggregator's agent with ``PartitionsMismatch`` ("has 0 partitions"). No topic has 0
partitions, so 0 now reads as "not known yet", which Faust already skips.

**A topic missing from the leader's metadata is asked for again at once.** For the same
reason the group leader's first assignment can miss the new changelog topics entirely
("Ignoring missing topic"): no worker then holds a table partition, every routed view
answers 503, and aiokafka notices the topics only at its next metadata refresh, five
minutes later by default (seen on Kafka in ``tests/e2e/test_access.py``). After such an
assignment the leader refreshes its metadata now; the new partition counts change its
metadata snapshot, and aiokafka rejoins the group with the topics in it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from faust.assignor.partition_assignor import PartitionAssignor
from faust.transport.drivers import aiokafka as driver
from faust.types import TP

log = logging.getLogger("moodstream.faust_fixes")

_installed = False


def uncommitted(
    committed: Mapping[TP, int | None], changelogs: Collection[str] = ()
) -> list[TP]:
    """The stream partitions ``seek_to_committed`` leaves where they are: nothing
    committed (None, or an offset of 0 or below). Changelog partitions never have a
    commit: table recovery positions them itself, and moving them would replay a table."""
    return sorted(
        tp for tp, offset in committed.items()
        if (not offset or offset <= 0) and tp.topic not in changelogs
    )


def known_partition_count(count: int | None) -> int | None:
    """``count`` from a metadata snapshot, or None when it cannot be a real count (0)."""
    return count if count else None


_refreshing: set[asyncio.Future[None]] = set()


async def _refresh_until_listed(client: Any, topics: list[str], tries: int = 60) -> None:
    """Refresh the client's metadata until every one of ``topics`` has partitions in it
    (a broker answers from its own metadata cache, which can lag a new topic too)."""
    try:
        for _ in range(tries):
            await client.force_metadata_update()
            if all(client.cluster.partitions_for_topic(topic) for topic in topics):
                return
            await asyncio.sleep(0.5)
        log.warning("%s still not in the metadata after %d refreshes", ", ".join(topics), tries)
    finally:
        _refreshing.discard(asyncio.current_task())


def install() -> None:
    """Wrap Faust's aiokafka consumer thread and its assignor with the fixes (idempotent)."""
    global _installed
    if _installed:
        return
    thread = driver.AIOKafkaConsumerThread
    seek: Callable[[Any], Awaitable[Mapping[TP, int | None]]] = thread.seek_to_committed
    partitions: Callable[[Any, str], int | None] = thread.topic_partitions

    async def seek_to_committed(self: Any) -> Mapping[TP, int | None]:
        committed = await seek(self)
        fresh = uncommitted(committed, self.app.tables.changelog_topics)
        if fresh and self.app.conf.consumer_auto_offset_reset == "earliest":
            log.info("nothing committed on %s: reading from the start",
                     ", ".join(f"{tp.topic}[{tp.partition}]" for tp in fresh))
            await self.seek_to_beginning(*fresh)
        return committed

    def topic_partitions(self: Any, topic: str) -> int | None:
        return known_partition_count(partitions(self, topic))

    assign: Callable[[Any, Any, Any], Any] = PartitionAssignor.assign

    def assign_and_refresh(self: Any, cluster: Any, member_metadata: Any) -> Any:
        assignment = assign(self, cluster, member_metadata)
        wanted = {topic for member in member_metadata.values() for topic in member.subscription}
        missing = sorted(t for t in wanted if not cluster.partitions_for_topic(t))
        if missing:
            log.info("assigned without %s (not in metadata yet): refreshing it to rejoin",
                     ", ".join(missing))
            client = self.app.consumer._thread._ensure_consumer()._client
            _refreshing.add(asyncio.ensure_future(_refresh_until_listed(client, missing)))
        return assignment

    thread.seek_to_committed = seek_to_committed  # type: ignore[assignment]  # the fix itself
    PartitionAssignor.assign = assign_and_refresh  # type: ignore[method-assign]  # the fix itself
    thread.topic_partitions = topic_partitions  # type: ignore[method-assign]  # the fix itself
    _installed = True
