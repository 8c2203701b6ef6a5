"""Where the aggregator resumes reading ``scored``: after the last offset its table
holds, when that is earlier than the offset the consumer group committed.

The group commits offset C only after the table's changelog writes for every event
before C are acknowledged, so a table rebuilt from the whole changelog always holds
them. A rebuild that stops reading short does not: recovery reads up to the end
offset the broker reports, and an end that lags what the broker acknowledged (the
embedded broker answers stale ends after a restart of its client, see
:mod:`moodstream_common.broker_compat`) leaves the table without the last writes
while the group's offset says they are done. The events of those writes would never
come again: their messages would lose their state, and a later update or delete of
one would count it twice or fail to retract it.

So the table decides, not one number from the broker: it records the newest source
offset whose batch is wholly in it (``RowKind.APPLIED``, written last in each batch,
see :mod:`moodstream_aggregator.aggregation`), and after recovery each source
partition is read again from that offset + 1 when the group's offset is past it.
Redelivered events are applied exactly once by the aggregation's offset rules, so
re-reading is always safe, only slower. On a durable broker the case arises only
when a changelog lost records; the check costs one table read a partition a start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("moodstream.aggregator.resume")

AppliedOffset = Callable[[int], "int | None"]

_installed: list[tuple[Any, str, AppliedOffset]] = []


def rewinds(committed: Mapping[Any, int | None], applied: AppliedOffset) -> dict[Any, int]:
    """``{tp: offset}`` for each partition to read again from before its committed offset.

    ``committed`` maps topic partitions to the group's committed offset (None or 0:
    nothing committed, nothing to check); ``applied(partition)`` is the table's newest
    applied offset there (None: the table holds none, so every committed event is
    missing from it and the partition is read from its start).
    """
    starts = {}
    for tp, offset in committed.items():
        if not offset or offset <= 0:
            continue
        last = applied(tp.partition)
        start = 0 if last is None else last + 1
        if start < offset:
            starts[tp] = start
    return starts


def install(app: Any, topic_name: str, applied: AppliedOffset) -> None:
    """After ``app``'s consumer seeks its partitions to their committed offsets, seek
    each partition of ``topic_name`` back to where ``applied`` says the table ends."""
    _installed.append((app, topic_name, applied))
    if len(_installed) > 1:
        return
    from faust.transport.consumer import Consumer

    original = Consumer.perform_seek

    async def perform_seek(self: Any) -> None:
        await original(self)
        for owner, topic, applied_offset in _installed:
            if self.app is not owner:
                continue
            committed = {
                tp: self._committed_offset.get(tp)
                for tp in self.assignment()
                if tp.topic == topic
            }
            for tp, start in sorted(rewinds(committed, applied_offset).items()):
                log.warning(
                    "the table holds %s partition %d up to offset %s but the group "
                    "committed %d: reading it again from %d",
                    tp.topic,
                    tp.partition,
                    start - 1 if start else "none",
                    committed[tp],
                    start,
                )
                await self.seek(tp, start)

    perform_seek.__moodstream_patch__ = "resume_from_table"  # type: ignore[attr-defined]  # a marker on the function
    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]  # the patch itself
