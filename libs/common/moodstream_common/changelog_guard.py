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

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from faust.tables.recovery import Recovery
from faust.types import TP

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


def discard_on_truncation(app: Any) -> Callable[[Any, int, int], None]:
    """A ``broker_compat.on_log_truncated`` listener that empties ``app``'s local table
    partitions numbered like a partition the broker lost.

    Tables are co-partitioned with their source, so partition *n* of every table was
    built from partition *n* of a log that no longer exists. The reset consumer reads
    the new log from offset 0; had the old state stayed until the next recovery, those
    records would have been applied to it (and the aggregator, seeing per-row offsets
    from the old log, would have skipped them as already applied). Runs on Faust's
    consumer thread before any record of the new log is fetched; RocksDB is safe to
    write from there.
    """

    def discard(tp: Any, offset: int, highwater: int) -> None:
        for table in list(app.tables.values()):
            removed = discard_partition(table, TP(tp.topic, tp.partition))
            if removed:
                log.warning(
                    "%s[%d] restarted below offset %d: discarded %d local keys of table %s "
                    "partition %d built from the lost log",
                    tp.topic, tp.partition, offset, removed, table.name, tp.partition,
                )

    return discard


def install() -> None:
    """Wrap Faust's recovery so stale partitions are emptied before its check runs."""
    global _installed
    if _installed:
        return
    original: Callable[..., Awaitable[None]] = Recovery._build_offsets

    async def _build_offsets(self, consumer, tps, destination, title):  # type: ignore[no-untyped-def]
        await original(self, consumer, tps, destination, title)
        if not tps:
            return
        end_offsets = await consumer.highwaters(*tps)
        holding = [
            tp for tp in tps if not end_offsets.get(tp) and holds_data(self.tp_to_table[tp], tp)
        ]
        for tp, (offset, end) in stale_partitions(
            {tp: destination[tp] for tp in tps}, end_offsets, holding
        ).items():
            table = self.tp_to_table[tp]
            removed = discard_partition(table, tp)
            log.warning(
                "changelog %s[%d] ends at offset %d but local state was at %d: the broker "
                "lost data (restarted with memory storage, or topics recreated); "
                "discarded %d local keys of table %s and rebuilding from the broker",
                tp.topic, tp.partition, end, offset, removed, table.name,
            )
            destination[tp] = -1

    Recovery._build_offsets = _build_offsets  # type: ignore[method-assign]
    _installed = True
