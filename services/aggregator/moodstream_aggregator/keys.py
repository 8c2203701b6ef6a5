"""The key layout of the aggregator's table (see :mod:`moodstream_aggregator.tables`).

Pure functions, so the aggregation logic and its tests need no Faust app.
"""

from __future__ import annotations

import unicodedata

from aiokafka.partitioner import murmur2

from moodstream_common import topics

PARTITIONS = topics.SCORED.partitions
OFFSET = "~offset"  # not a label, not a hashtag: cannot collide with a counted field
MESSAGE_PREFIX = "m|"


def hashtag_of(text: str) -> str:
    """A hashtag as the analyzer stores it: NFC, case-folded, without a leading ``#``
    (``""`` when nothing is left). A tag the analyzer never keeps finds no rows."""
    return unicodedata.normalize("NFC", text.strip()).lstrip("#\uff03").casefold()


def row_key(kind: str, partition: int, key: str) -> str:
    """Key of one partial row."""
    return f"{kind}|{partition}|{key}"


def tag_window(window_start: int, tag: str) -> str:
    """Row id of one hashtag's window (``RowKind.HASHTAG_SERIES``): ``<start>|<tag>``.

    The window start comes first, so :func:`window_of` reads it whatever the tag holds.
    """
    return f"{window_start}|{tag}"


def window_of(row_id: str) -> int:
    """Start of the window a window row's id names (``<start>`` or ``<start>|<tag>``)."""
    return int(row_id.split("|", 1)[0])


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
