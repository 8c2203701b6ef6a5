"""The key layout of the aggregator's table (see :mod:`moodstream_aggregator.tables`).

Pure functions, so the aggregation logic and its tests need no Faust app.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2

from moodstream_common import topics

PARTITIONS = topics.SCORED.partitions
OFFSET = "~offset"  # not a label, not a hashtag: cannot collide with a counted field
MESSAGE_PREFIX = "m|"


def row_key(kind: str, partition: int, key: str) -> str:
    """Key of one partial row."""
    return f"{kind}|{partition}|{key}"


def message_key(message_id: str) -> str:
    """Key of one message's state."""
    return f"{MESSAGE_PREFIX}{message_id}"


def partition_of(message_id: str) -> int:
    """Partition of ``scored`` (and so of the table) that holds ``message_id``.

    The same murmur2 hash as the producers' default partitioner (Kafka's Java client
    uses it too), over the UTF-8 key bytes.
    """
    hashed: int = murmur2(message_id.encode())  # aiokafka leaves it unannotated
    return (hashed & 0x7FFFFFFF) % PARTITIONS
