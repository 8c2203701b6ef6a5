"""How scored records change the aggregator's table, a batch at a time, exactly once.

No Faust here: :class:`Aggregation` reads a mapping (the Faust table, or a dict in
tests) and returns the writes a batch makes; the agent performs them.

The argument, per source partition (each row and message state lives in the
changelog partition of its source partition):

1. A batch is applied record by record, in offset order, against an in-memory
   *overlay* of the table, exactly as if each record were written at once: every row
   and message state it changes carries ``OFFSET``, the offset of the last event
   applied to it. Only the final value of each key is written, so a row touched by
   500 events of a batch costs one changelog record, not 500.
2. The batch's writes go out in this order: aggregate rows and counters, then message
   states, then the watermark, then the *applied offset* (the batch's last offset).
   A crash loses at most a suffix of them.
3. A redelivered event is skipped when its message state carries its offset (or a
   later one): message states are written after every row, so every row of that
   batch is there. Otherwise each of its rows is applied only if the row does not yet
   carry its offset: a row written before the crash already holds the whole batch's
   change to it, and a counter (late, expired) the same.
4. A skipped event still moves the watermark (a maximum, so moving it again is
   harmless): redelivered events then see the watermark they saw the first time,
   and are judged late or beyond retention the same way.
5. The applied offset says how far the table really got, whatever the consumer
   group committed: a table rebuilt from a changelog read that stopped short (a
   broker answering a stale end offset) holds a prefix of the writes, exactly the
   state a crash leaves, and :mod:`moodstream_aggregator.resume` reads the source
   again from the applied offset + 1, so rule 3 completes it.

``tests/unit/aggregator/test_aggregation.py`` kills a batch between every two of its
writes, redelivers, and checks the table against a run without the crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moodstream_aggregator.contributions import (
    Contribution,
    Delta,
    add_delta,
    contribution_of,
    deltas,
    window_start,
)
from moodstream_aggregator.keys import MESSAGE_PREFIX, OFFSET, message_key, partition_of, row_key
from moodstream_aggregator.kinds import MINUTE, RowKind
from moodstream_aggregator.retention import RetentionIndex
from moodstream_common.records import EVENT_DELETE, ScoredMessage

Write = tuple[str, Any]  # (table key, new value); value None deletes the key


@dataclass
class _PartitionWrites:
    """One source partition's pending writes, in the order they must reach the changelog."""

    rows: dict[str, Any] = field(default_factory=dict)
    watermark: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, Any] = field(default_factory=dict)
    applied: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> tuple[bool, Any]:
        for layer in (self.applied, self.messages, self.watermark, self.rows):
            if key in layer:
                return True, layer[key]
        return False, None

    def ordered(self) -> list[Write]:
        return [
            *self.rows.items(),
            *self.messages.items(),
            *self.watermark.items(),
            *self.applied.items(),
        ]


@dataclass
class AggregationSettings:
    """The retention and lateness rules :class:`Aggregation` applies (their defaults and
    meaning live in the aggregator's :class:`~moodstream_aggregator.settings.Settings`)."""

    grace_seconds: float
    message_retention_seconds: float
    watermark_max_ahead_seconds: float
    expiry_interval_seconds: float
    second_windows_retained: int
    minute_windows_retained: int

    @classmethod
    def of(cls, settings: Any) -> AggregationSettings:
        """The same fields, read from the aggregator's :class:`Settings`."""
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


class Aggregation:
    """The aggregator's state: the table, its retention index and the changed rows.

    ``apply(record, partition, offset)`` buffers a record's changes; ``drain()``
    returns every buffered write per partition, in changelog order, and forgets them.
    Reads during a batch see its own buffered writes first.
    """

    def __init__(
        self,
        table: Mapping[str, Any],
        rules: AggregationSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.rules = rules
        self.retention = RetentionIndex(
            second_retention=rules.second_windows_retained,
            minute_retention=rules.minute_windows_retained * MINUTE,
            message_retention=rules.message_retention_seconds,
        )
        # (kind, key) rows changed since the last publish; in memory only, since a
        # lost publish is repaired by the next change or replay.
        self.dirty: set[tuple[RowKind, str]] = set()
        self._pending: dict[int, _PartitionWrites] = {}
        self._last_expiry: dict[int, float] = {}
        self._clock = clock
        # A table that reads one partition's store at a time (tables.StoreReads) is read
        # so; any other mapping (a dict in tests) holds every partition's keys at once.
        self._read: Callable[[int, str], Any] = getattr(table, "get_in", None) or (
            lambda _partition, key: table.get(key)
        )

    # -- reads and buffered writes ---------------------------------------------------

    def _get(self, partition: int, key: str) -> Any:
        pending = self._pending.get(partition)
        if pending is not None:
            found, value = pending.get(key)
            if found:
                return value
        return self._read(partition, key)

    def _writes(self, partition: int) -> _PartitionWrites:
        pending = self._pending.get(partition)
        if pending is None:
            pending = self._pending[partition] = _PartitionWrites()
        return pending

    def drain(self) -> dict[int, list[Write]]:
        """Every buffered write per source partition, in changelog order; then forget them."""
        writes = {partition: pending.ordered() for partition, pending in self._pending.items()}
        self._pending = {}
        return writes

    @staticmethod
    def _applied_key(partition: int) -> str:
        return row_key(RowKind.APPLIED, partition, "all")

    def applied_offset(self, partition: int) -> int | None:
        """The newest source offset of ``partition`` whose batch is wholly in the table
        (``None``: none, or a table written before the applied offset existed).

        Reads the table, not the overlay: this is what survived, not what is pending.
        """
        row = self._read(partition, self._applied_key(partition))
        return int(row[OFFSET]) if row else None

    # -- applying records ------------------------------------------------------------

    def apply(self, record: ScoredMessage, partition: int, offset: int) -> bool:
        """Buffer one scored record (at ``offset`` of ``partition``); True if rows changed.

        The record replaces the message's earlier contribution (update), retracts it
        (delete), or changes nothing (the same content again, at any offset).
        """
        self._writes(partition).applied[self._applied_key(partition)] = {OFFSET: offset}
        key = message_key(record.id)
        stored = self._get(partition, key) or {}
        if stored.get(OFFSET, -1) >= offset:
            # This event (or a later one of this message) is fully applied.
            if contribution_of(record) is not None:
                self._advance_watermark(record.event_time, record.received_at, partition)
            return False
        if not stored and self._beyond_retention(record.event_time, partition):
            # Its state may have expired after it was counted: applying it again could
            # count it twice, so it is refused and counted as expired instead.
            self._count(partition, RowKind.EXPIRED, offset)
            return False
        old = _contribution(stored.get("current"))
        deleted = record.type == EVENT_DELETE
        new = None if deleted else contribution_of(record)
        text = None if new is None else feed_text(record.text)
        if (
            stored
            and new == old
            and deleted == bool(stored.get("deleted"))
            and text == stored.get("text")
        ):
            return False  # the same content again: a duplicate or a replay
        changed = self._apply_deltas(partition, offset, deltas(old, new))
        if new is not None:
            self._track_event_time(new.event_time, record.received_at, partition, offset)
        self._writes(partition).messages[key] = {
            "current": new.to_json() if new else None,
            "deleted": deleted,
            "deleted_at": record.event_time if deleted else None,
            "text": text,
            OFFSET: offset,
        }
        self.retention.note_message(partition, record.id, (new or old or record).event_time)
        return changed

    def _apply_deltas(self, partition: int, offset: int, changes: Iterable[Delta]) -> bool:
        # One write per row: an update may retract and add on the same row (its total).
        by_row: dict[tuple[RowKind, str], list[Delta]] = {}
        for delta in changes:
            by_row.setdefault((delta.kind, delta.key), []).append(delta)
        rows = self._writes(partition).rows
        changed = False
        for (kind, row_id), row_deltas in by_row.items():
            key = row_key(kind, partition, row_id)
            updated = rows.get(key)  # this batch's own copy: changed in place
            if updated is None:
                row = self._read(partition, key)  # only the overlay's rows layer has rows
                if row and row.get(OFFSET, -1) >= offset:
                    continue  # written before a crash; the rest of this event was not
                updated = {k: v for k, v in (row or {}).items() if k != OFFSET}
            elif updated.get(OFFSET, -1) >= offset:
                continue
            for delta in row_deltas:
                add_delta(updated, delta)
            updated[OFFSET] = offset
            rows[key] = updated
            self.dirty.add((kind, row_id))
            self.retention.note_row(partition, kind, row_id)
            changed = True
        return changed

    # -- event time ------------------------------------------------------------------

    def watermark(self, partition: int) -> float:
        """Newest (clamped) event time seen on ``partition``."""
        mark = self._get(partition, row_key(RowKind.WATERMARK, partition, "all")) or {}
        return float(mark.get("event_time", 0.0))

    def watermark_candidate(self, event_time: float, received_at: float) -> float:
        """How far one record may move the watermark: its event time, but never more
        than ``watermark_max_ahead_seconds`` past the time ingest received it.

        A sender's clock (or a hostile timestamp) a day ahead would otherwise move the
        watermark a day ahead, close every window at once and expire the state of
        recent messages, so their later updates and deletes could no longer retract
        them. ``received_at`` is ingest's clock, on the record, so a replay clamps the
        same way.
        """
        if received_at <= 0:
            return event_time
        return min(event_time, received_at + self.rules.watermark_max_ahead_seconds)

    def _beyond_retention(self, event_time: float, partition: int) -> bool:
        """True when a message of ``event_time`` is older than the message retention.

        The same horizon as :meth:`expired_keys` uses, so a message whose state
        expired is always beyond it when it comes again.
        """
        return event_time < self.watermark(partition) - self.rules.message_retention_seconds

    def _track_event_time(
        self, event_time: float, received_at: float, partition: int, offset: int
    ) -> None:
        """Advance the partition's watermark; count the record as late if its window closed."""
        if not self._advance_watermark(event_time, received_at, partition) and (
            window_start(event_time, MINUTE) + MINUTE + self.rules.grace_seconds
            < self.watermark(partition)
        ):
            self._count(partition, RowKind.LATE, offset)

    def _advance_watermark(self, event_time: float, received_at: float, partition: int) -> bool:
        """Move the partition's watermark to this record's candidate if it is ahead."""
        candidate = self.watermark_candidate(event_time, received_at)
        if candidate <= self.watermark(partition):
            return False
        key = row_key(RowKind.WATERMARK, partition, "all")
        self._writes(partition).watermark[key] = {"event_time": candidate}
        return True

    def _count(self, partition: int, kind: RowKind, offset: int) -> None:
        """Add one to ``partition``'s ``kind`` counter (``late``, ``expired``), once per offset."""
        key = row_key(kind, partition, "all")
        row = self._get(partition, key) or {}
        if row.get(OFFSET, -1) < offset:
            self._writes(partition).rows[key] = {kind: row.get(kind, 0) + 1, OFFSET: offset}

    # -- retention -------------------------------------------------------------------

    def expired_keys(self, partition: int) -> list[str]:
        """Keys of ``partition``'s windows and messages past retention, to delete.

        At most every ``expiry_interval_seconds`` per partition (an empty list
        otherwise). Call it after the batch's writes are in the table: it reads the
        table, not the overlay.
        """
        now = self._clock()
        if now - self._last_expiry.get(partition, float("-inf")) < (
            self.rules.expiry_interval_seconds
        ):
            return []
        self._last_expiry[partition] = now
        if not self.retention.scanned:
            self._scan()
        mark = self.watermark(partition)
        expired = [
            key
            for kind, row_id in self.retention.expired_rows(partition, mark)
            if (key := row_key(kind, partition, row_id)) in self.table
        ]
        horizon = mark - self.rules.message_retention_seconds
        for message_id in self.retention.expired_messages(partition, mark):
            key = message_key(message_id)
            state = self._read(partition, key)
            # Only if it was not updated to a newer time since it was indexed.
            if state is not None and state_event_time(state) < horizon:
                expired.append(key)
        return expired

    def _scan(self) -> None:
        """Rebuild the retention index from the table (once, after a restart)."""
        rows, messages = [], []
        for key, state in self.table.items():
            if key.startswith(MESSAGE_PREFIX):
                message_id = key[len(MESSAGE_PREFIX) :]
                messages.append((message_id, partition_of(message_id), state_event_time(state)))
            else:
                rows.append(key)
        self.retention.scan(rows, messages)


FEED_TEXT_CHARS = 280
"""Most characters of a message's text kept for the feed (a tweet's length): the
aggregates never need the text, and a 10,000-character message must not grow the
table by as much."""


def feed_text(text: str | None) -> str:
    """The part of a message's text its state keeps for the feed."""
    text = text or ""
    return text if len(text) <= FEED_TEXT_CHARS else text[: FEED_TEXT_CHARS - 1] + "…"


def state_event_time(state: dict[str, object] | None) -> float:
    """Event time of a stored message state (its contribution's, or its delete's)."""
    state = state or {}
    current = state.get("current")
    value = current.get("event_time") if isinstance(current, dict) else state.get("deleted_at")
    return float(value) if isinstance(value, int | float) else 0.0


def _contribution(data: dict[str, object] | None) -> Contribution | None:
    return Contribution.from_json(data) if data else None
