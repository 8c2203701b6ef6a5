"""Aggregator tables (RocksDB-backed, with changelogs), co-partitioned with ``scored``.

``messages``: message id -> its current contribution (or a deletion marker). This is
the per-message state that makes updates replace, deletes retract and redelivery a
no-op.

``aggregates``: ``"<kind>|<partition>|<key>"`` -> counts. Rows are partial per source
partition, because a table row is owned by the partition of the event that wrote it:
two partitions writing one key would race. Readers sum a key over all partitions.
"""

from __future__ import annotations

from typing import Any

from aiokafka.partitioner import murmur2

from moodstream_aggregator.app import app
from moodstream_common import topics

PARTITIONS = topics.SCORED.partitions

messages = app.Table(
    "messages",
    default=None,
    partitions=PARTITIONS,
    key_type=str,
    help="message id -> current contribution or deletion marker",
)
aggregates = app.Table(
    "aggregates",
    default=None,
    partitions=PARTITIONS,
    key_type=str,
    help="kind|partition|key -> partial counts",
)


def row_key(kind: str, partition: int, key: str) -> str:
    """Key of one partial row in ``aggregates``."""
    return f"{kind}|{partition}|{key}"


def partition_of(message_id: str) -> int:
    """Partition of ``scored`` (and so of ``messages``) that holds ``message_id``.

    The same murmur2 hash as the producers' default partitioner (Kafka's Java client
    uses it too), over the UTF-8 key bytes.
    """
    return (murmur2(message_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def partials(kind: str, key: str) -> list[dict[str, Any]]:
    """Every partition's partial row for ``kind``/``key`` held by this worker."""
    rows = (aggregates.get(row_key(kind, partition, key)) for partition in range(PARTITIONS))
    return [row for row in rows if row]
