"""The aggregator's tables (RocksDB-backed, with changelogs).

``alerts`` (one partition, co-partitioned with ``alert-checks``) holds each alert
rule's episode state (see :mod:`moodstream_aggregator.episodes`).

``aggregates`` is co-partitioned with ``scored``. It holds two kinds of keys, on
purpose in ONE table so that every write an event makes goes to the same changelog
partition, in order:

- ``m|<message id>``: the message's current contribution (and the one before it, and
  the source offset of the event that wrote it) — what makes updates replace, deletes
  retract and redelivery change nothing;
- ``<kind>|<partition>|<key>``: aggregate rows, partial per source partition (a table
  row is owned by the partition of the event that wrote it, so two partitions writing
  one key would race; readers sum a key over all partitions). Each row records the
  offset of the last event applied to it.

Why one changelog partition matters: a crash can lose only a *suffix* of the writes
not yet flushed. A batch writes its rows first and its message states last, and the
offsets on rows and message states tell exactly which writes a redelivered event
still needs (see :mod:`moodstream_aggregator.aggregation`).
"""

from __future__ import annotations

import weakref
from collections.abc import ItemsView, Iterable, Iterator, Mapping
from typing import Any

from faust.streams import _current_event
from faust.types import EventT

from moodstream_aggregator.app import app, settings
from moodstream_aggregator.keys import (  # noqa: F401  re-exported: the table's key layout
    MESSAGE_PREFIX,
    OFFSET,
    PARTITIONS,
    message_key,
    partition_of,
    row_key,
)
from moodstream_common import topics

MB = 1024 * 1024


def rocksdb_options(config: Any) -> dict[str, int]:
    """RocksDB store options from the aggregator settings (ignored by memory://)."""
    if not str(config.store).startswith("rocksdb"):
        return {}
    return {
        "write_buffer_size": config.rocksdb_write_buffer_mb * MB,
        "max_write_buffer_number": config.rocksdb_write_buffers,
        "block_cache_size": config.rocksdb_block_cache_mb * MB,
    }


aggregates = app.Table(
    "aggregates",
    default=None,
    partitions=PARTITIONS,
    key_type=str,
    help="m|<message id> -> message state; kind|partition|key -> partial counts",
    # Faust's RocksDB defaults (64 MB memtables x 3, a 2 GB cache, per partition) let
    # RSS climb for hours before the first flush; these make the bound explicit.
    options=rocksdb_options(settings),
)


alerts = app.Table(
    "alerts",
    default=None,
    partitions=topics.ALERT_CHECKS.partitions,
    key_type=str,
    help="alert rule name -> its episode state",
    options=rocksdb_options(settings),
)


class StoreReads(Mapping[str, Any]):
    """Reads of a Faust table straight from its store: one RocksDB lookup a read.

    ``table.get(key)`` looks a key up twice (``key in store``, then ``store[key]``:
    mode's ``FastUserDict.__getitem__`` checks first because a Table defines
    ``__missing__``), 6 % of the aggregator's CPU at full rate. The store's own
    ``get`` makes the second lookup only, with the same partition rules. Writes still
    go through the table, which sends them to its changelog.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: str) -> Any:
        return self._table.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value of ``key``, or ``default``."""
        try:
            return self._table.data[key]
        except KeyError:
            return default

    def get_in(self, partition: int, key: str, default: Any = None) -> Any:
        """The stored value of ``key`` in ``partition``'s store, or ``default``.

        With no current event (the agent's task has none: a batch spans partitions)
        Faust's RocksDB store finds a key by asking every partition's database it has
        open, remembering only the last 1,000 keys' partitions. The aggregation
        always knows a key's partition (rule 1 of :mod:`~moodstream_aggregator.aggregation`:
        a row or message state lives in its source partition's store), so one lookup.
        """
        store = self._table.data
        databases = getattr(store, "_dbs", None)
        if databases is None:  # memory://: one dict for every partition
            return self.get(key, default)
        database = databases.get(partition)
        if database is None:  # not open here (not this worker's): Faust reads none either
            return default
        value = database.get(store._encode_key(key))
        return default if value is None else store._decode_value(value)

    def __contains__(self, key: object) -> bool:
        return key in self._table.data

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.data)

    def __len__(self) -> int:
        return len(self._table.data)

    def items(self) -> ItemsView[str, Any]:
        """Every key and value, read in one pass over the store (not a lookup a key)."""
        items: ItemsView[str, Any] = self._table.data.items()
        return items


aggregate_reads = StoreReads(aggregates)
"""Reads of ``aggregates`` straight from its store (the agent's and the views')."""


def write_as(
    event: EventT[Any], writes: Iterable[tuple[str, Any]], table: Any = aggregates
) -> None:
    """Perform ``writes`` (key, value; ``None`` deletes) to ``table`` in the partition of
    ``event``.

    Faust picks a write's store and changelog partition from the *current* event, a
    context variable set only in the task that iterates the stream. A batch from
    ``take_events`` is handled in the agent's own task and spans partitions, so each
    partition's writes are made with one of that partition's events made current.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        for key, value in writes:
            if value is None:
                if key in table:
                    del table[key]
            else:
                table[key] = value
    finally:
        _current_event.reset(token)


def message_state(message_id: str) -> dict[str, Any] | None:
    """The stored state of ``message_id`` on this worker, if any."""
    state: dict[str, Any] | None = aggregates.get(message_key(message_id))
    return state


def partials(kind: str, key: str) -> list[dict[str, Any]]:
    """Every partition's partial row for ``kind``/``key`` held by this worker."""
    rows = (aggregates.get(row_key(kind, partition, key)) for partition in range(PARTITIONS))
    return [row for row in rows if row]
