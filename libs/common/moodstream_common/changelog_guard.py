"""Drop local table state that is *ahead* of its changelog instead of crash-looping.

A Faust table's truth is its changelog topic; the local RocksDB store is a cache of
it that remembers the last changelog offset it applied. When the store is ahead of
the broker (its offset is at or past the changelog's end, or it holds data while the
changelog is empty), the broker has lost data the store still holds: the embedded
broker restarted (memory storage keeps nothing), or someone deleted and recreated the
topics. Faust then either stops the worker with a ``ConsistencyError`` on every start,
a crash loop no restart policy can fix, or (when the store had not recorded its offset
yet) silently keeps the stale state.

Keeping the stale state would also be *wrong*, not just stale: the aggregator
remembers per-row source offsets, and a recreated source topic counts offsets from 0
again, so new events would look already applied. So the guard empties that
partition's local store, logs one WARNING naming the partition and both offsets, and
lets recovery rebuild it from what the broker has. On a durable broker (Redpanda,
Kafka) the condition never arises unless the changelog was deleted, and then
rebuilding from the topic is still the only state consistent with the cluster.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from faust.tables.recovery import Recovery
from faust.types import TP

from moodstream_common import broker_compat

log = logging.getLogger("moodstream.changelog_guard")

_installed = False


def stale_partitions(
    applied: Mapping[TP, int | None],
    end_offsets: Mapping[TP, int | None],
    holding_data: Collection[TP] = (),
) -> dict[TP, tuple[int, int]]:
    """``{tp: (applied, end)}`` for partitions whose local state the broker no longer has.

    ``applied`` is the last changelog offset the store applied (Faust's convention, -1
    or None for none); ``end_offsets`` the offset the broker would give the next
    record (None: the broker has no such topic); ``holding_data`` the partitions whose
    local store holds any key. Stale is a local offset at or past the end, or local
    data beside an empty or missing changelog (the store had not recorded its offset
    yet when the broker lost everything). Discarding is always safe, only slower:
    recovery then replays the whole changelog, if there is one.
    """
    stale = {}
    for tp, offset in applied.items():
        end = end_offsets.get(tp)
        if end is None or end == 0:
            # No changelog (not recreated yet: the broker answers no end) or an empty one.
            if (offset is not None and offset >= 0) or tp in holding_data:
                stale[tp] = (offset if offset is not None else -1, end or 0)
        elif offset is not None and offset >= end:
            stale[tp] = (offset, end)
    return stale


def holds_data(table: Any, tp: TP) -> bool:
    """True when ``table``'s local store has any key in ``tp``'s partition."""
    open_partition = getattr(table.data, "_db_for_partition", None)
    if open_partition is None:
        return False
    return next(iter(open_partition(tp.partition).keys()), None) is not None


def discard_partition(table: Any, tp: TP) -> int:
    """Delete every local key of ``table`` in ``tp``'s partition; returns how many.

    Works on the RocksDB store (one database per partition) and, for tests, on any
    store exposing ``_db_for_partition``; other stores hold nothing across restarts.
    """
    store = table.data
    open_partition = getattr(store, "_db_for_partition", None)
    if open_partition is None:
        return 0
    db = open_partition(tp.partition)
    keys = list(db.keys())
    for key in keys:
        del db[key]
    return len(keys)


def discard_on_truncation(app: Any) -> Callable[[Any, int, int, str], None]:
    """A ``broker_compat.on_log_truncated`` listener that empties ``app``'s local table
    partitions numbered like a partition the broker lost.

    Tables are co-partitioned with their source, so partition *n* of every table was
    built from partition *n* of a log that no longer exists. The reset consumer reads
    the new log from offset 0; had the old state stayed until the next recovery, those
    records would have been applied to it (and the aggregator, seeing per-row offsets
    from the old log, would have skipped them as already applied). Runs on Faust's
    consumer thread before any record of the new log is fetched; RocksDB is safe to
    write from there. ``broker_compat`` calls it only with proof of the loss.
    """

    def discard(tp: Any, offset: int, highwater: int, evidence: str) -> None:
        for table in list(app.tables.values()):
            removed = discard_partition(table, TP(tp.topic, tp.partition))
            if removed:
                log.warning(
                    "%s[%d] restarted below offset %d (%s): discarded %d local keys of "
                    "table %s partition %d built from the lost log",
                    tp.topic, tp.partition, offset, evidence, removed, table.name,
                    tp.partition,
                )

    return discard


class BrokerIdentity:
    """Which broker a worker's local stores were built from, kept beside them.

    The file ``<tabledir>/broker-cluster-id`` names the cluster id the stores' changelog
    offsets belong to. On the embedded broker a high watermark can lag what the broker
    has acknowledged, so "my offset is past the end" proves nothing there; a cluster id
    that differs from the recorded one does (:func:`broker_compat.truncation_evidence`).
    """

    FILE = "broker-cluster-id"

    def __init__(self, tabledir: Path, bootstrap: str) -> None:
        self.path = Path(tabledir) / self.FILE
        self.bootstrap = bootstrap

    def recorded(self) -> str | None:
        """The cluster id the stores were built from (None: not recorded)."""
        try:
            return self.path.read_text().strip() or None
        except OSError:
            return None

    def record(self, cluster_id: str) -> None:
        """Remember ``cluster_id`` as the one the stores now belong to."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(cluster_id + "\n")

    async def current(self) -> str | None:
        """The cluster id the broker answers with now (None if it cannot be asked)."""
        from aiokafka import AIOKafkaClient
        from aiokafka.errors import KafkaError

        client = AIOKafkaClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            await client.bootstrap()
            node = next(iter(client.cluster.brokers())).nodeId
            return await broker_compat.cluster_id_of(client, node)
        except (KafkaError, OSError, TimeoutError, StopIteration) as exc:
            log.warning("could not ask the broker for its cluster id: %r", exc)
            return None
        finally:
            await client.close()


_identities: dict[int, BrokerIdentity] = {}

# How long a changelog's reported end may lag before the guard stops waiting for it.
LAG_WAIT_SECONDS = 12.0


def prove_truncation_with(app: Any, identity: BrokerIdentity) -> None:
    """Make the guard demand proof (a changed cluster id) before it discards ``app``'s
    stores. Used on the embedded broker, whose reported ends can lag."""
    _identities[id(app)] = identity


async def _wait_for_ends(
    consumer: Any, offsets: Mapping[TP, tuple[int, int]]
) -> dict[TP, int]:
    """Re-read the ends of ``offsets``' partitions until each passes its local offset,
    or :data:`LAG_WAIT_SECONDS` pass; returns the ends last read."""
    deadline = time.monotonic() + LAG_WAIT_SECONDS
    ends = {tp: end for tp, (_, end) in offsets.items()}
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        read = await consumer.highwaters(*offsets)
        ends = {tp: read.get(tp) or ends[tp] for tp in offsets}
        if all(ends[tp] > offset for tp, (offset, _) in offsets.items()):
            break
    return ends


def install() -> None:
    """Wrap Faust's recovery so stale partitions are emptied before its check runs."""
    global _installed
    if _installed:
        return
    original: Callable[..., Awaitable[None]] = Recovery._build_offsets

    async def _build_offsets(self, consumer, tps, destination, title):  # type: ignore[no-untyped-def]  # Faust's own signature, replaced as is
        await original(self, consumer, tps, destination, title)
        if not tps:
            return
        identity = _identities.get(id(self.app))
        end_offsets = await consumer.highwaters(*tps)
        holding = [
            tp for tp in tps if not end_offsets.get(tp) and holds_data(self.tp_to_table[tp], tp)
        ]
        stale = stale_partitions({tp: destination[tp] for tp in tps}, end_offsets, holding)
        if identity is None:
            evidence: str | None = "the changelog ends below the local offset"
        else:
            current = await identity.current()
            evidence = broker_compat.truncation_evidence(identity.recorded(), current)
            if stale and evidence is None:
                _log_lagging(stale, title)
                ends = await _wait_for_ends(consumer, stale)
                if title == "active":
                    for tp, end in ends.items():
                        self.active_highwaters[tp] = max(self.active_highwaters[tp], end - 1)
                stale = {}
            if current is not None:
                identity.record(current)
        for tp, (offset, end) in stale.items():
            table = self.tp_to_table[tp]
            removed = discard_partition(table, tp)
            log.warning(
                "changelog %s[%d] ends at offset %d but local state was at %d, and %s: "
                "the broker lost data (restarted with memory storage, or topics "
                "recreated); discarded %d local keys of table %s and rebuilding from "
                "the broker",
                tp.topic, tp.partition, end, offset, evidence, removed, table.name,
            )
            destination[tp] = -1

    Recovery._build_offsets = _build_offsets  # type: ignore[method-assign]  # the patch itself
    _installed = True


def _log_lagging(stale: Mapping[TP, tuple[int, int]], title: str) -> None:
    for tp, (offset, end) in stale.items():
        log.warning(
            "changelog %s[%d] reports its end at offset %d, below the local offset %d, "
            "but the broker is the one the store was built from (same cluster id): its "
            "high watermark lags; keeping the %s state and waiting for the end",
            tp.topic, tp.partition, end, offset, title,
        )
