"""Bounded state: which rows and messages fall out of retention, per partition.

Windows older than their retention (behind the partition's newest event time) are
deleted, and so are messages (per-message state) older than the message retention:
memory and disk stay bounded over a long run. A table row can only be deleted while
processing an event of the partition that owns it (its changelog partition), so the
agent asks for one partition's expired keys at a time.

The index is in memory; after a restart it is rebuilt with one scan of the tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from moodstream_aggregator.keys import window_of
from moodstream_aggregator.kinds import WINDOW_KINDS, RowKind


@dataclass
class RetentionIndex:
    """Window starts and message ids per partition, by the time they expire."""

    second_retention: float
    minute_retention: float
    message_retention: float
    # partition -> (kind, row id) window rows; partition -> minute -> message ids
    windows: dict[int, set[tuple[RowKind, str]]] = field(default_factory=lambda: defaultdict(set))
    messages: dict[int, dict[int, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    scanned: bool = False

    def note_row(self, partition: int, kind: RowKind, key: str) -> None:
        """Remember a window row so it can expire."""
        if kind in WINDOW_KINDS:
            self.windows[partition].add((kind, key))

    def note_message(self, partition: int, message_id: str, event_time: float) -> None:
        """Remember a message's state so it can expire."""
        self.messages[partition][int(event_time // 60) * 60].add(message_id)

    def scan(self, row_keys: Iterable[str], messages: Iterable[tuple[str, int, float]]) -> None:
        """Rebuild the index from table contents (row keys; (id, partition, time))."""
        for key in row_keys:
            kind, row_partition, rest = key.split("|", 2)
            if kind in WINDOW_KINDS:
                self.note_row(int(row_partition), RowKind(kind), rest)
        for message_id, partition, event_time in messages:
            self.note_message(partition, message_id, event_time)
        self.scanned = True

    def expired_rows(self, partition: int, watermark: float) -> list[tuple[RowKind, str]]:
        """Window rows ``(kind, row id)`` of ``partition`` past retention; forgotten once
        returned."""
        horizon = {
            kind: watermark - (self.second_retention if kind == RowKind.SECOND
                               else self.minute_retention)
            for kind in WINDOW_KINDS
        }
        rows = self.windows.get(partition, set())
        expired = [(kind, key) for kind, key in rows if window_of(key) < horizon[kind]]
        rows.difference_update(expired)
        return expired

    def expired_messages(self, partition: int, watermark: float) -> list[str]:
        """Message ids of ``partition`` past retention; forgotten once returned."""
        minutes = self.messages.get(partition, {})
        horizon = watermark - self.message_retention
        old = [minute for minute in minutes if minute + 60 <= horizon]
        expired: list[str] = []
        for minute in old:
            expired.extend(minutes.pop(minute))
        return expired
