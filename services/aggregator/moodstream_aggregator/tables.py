"""The aggregator's one table (RocksDB-backed, with a changelog), co-partitioned with
``scored``.

It holds two kinds of keys, on purpose in ONE table so that every write an event makes
goes to the same changelog partition, in order:

- ``m|<message id>``: the message's current contribution (and the one before it, and
  the source offset of the event that wrote it) — what makes updates replace, deletes
  retract and redelivery change nothing;
- ``<kind>|<partition>|<key>``: aggregate rows, partial per source partition (a table
  row is owned by the partition of the event that wrote it, so two partitions writing
  one key would race; readers sum a key over all partitions). Each row records the
  offset of the last event applied to it.

Why one changelog partition matters: a crash can lose only a *suffix* of the writes
not yet flushed. An event writes its rows first and its message state last, so after
recovery at most one event is half applied, and the offsets on rows and message state
tell exactly which of its writes are missing (see ``agents.apply_record``).
"""

from __future__ import annotations

from typing import Any

from aiokafka.partitioner import murmur2

from moodstream_aggregator.app import app, settings
from moodstream_common import topics

PARTITIONS = topics.SCORED.partitions
OFFSET = "~offset"  # not a label, not a hashtag: cannot collide with a counted field
MESSAGE_PREFIX = "m|"

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


def row_key(kind: str, partition: int, key: str) -> str:
    """Key of one partial row."""
    return f"{kind}|{partition}|{key}"


def message_key(message_id: str) -> str:
    """Key of one message's state."""
    return f"{MESSAGE_PREFIX}{message_id}"


def message_state(message_id: str) -> dict[str, Any] | None:
    """The stored state of ``message_id`` on this worker, if any."""
    state: dict[str, Any] | None = aggregates.get(message_key(message_id))
    return state


def partition_of(message_id: str) -> int:
    """Partition of ``scored`` (and so of the table) that holds ``message_id``.

    The same murmur2 hash as the producers' default partitioner (Kafka's Java client
    uses it too), over the UTF-8 key bytes.
    """
    return (murmur2(message_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def partials(kind: str, key: str) -> list[dict[str, Any]]:
    """Every partition's partial row for ``kind``/``key`` held by this worker."""
    rows = (aggregates.get(row_key(kind, partition, key)) for partition in range(PARTITIONS))
    return [row for row in rows if row]
