"""Batched aggregation, proven against a crash between any two writes of a batch.

The table is a plain dict; a "crash" keeps a prefix of each partition's writes (each
partition is its own changelog partition, so each loses its own suffix), a fresh
:class:`Aggregation` (a restarted worker: empty retention index) gets every event of
the batch again, and the table must equal the table of a run that never crashed.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from faust.types import TP

from moodstream_aggregator.aggregation import Aggregation, AggregationSettings
from moodstream_aggregator.keys import OFFSET, partition_of, row_key
from moodstream_aggregator.resume import rewinds
from moodstream_common.records import ScoredMessage

BASE = 1_751_808_000.0
# No expiry during these runs (deletes are time-driven); a short message retention so
# some records are refused as beyond it, and a short grace so some are late.
RULES = dict(
    grace_seconds=5.0,
    message_retention_seconds=400.0,
    watermark_max_ahead_seconds=60.0,
    expiry_interval_seconds=1e12,
    second_windows_retained=3_600,
    minute_windows_retained=1_440,
)

Event = tuple[ScoredMessage, int, int]


def stream(seed: int, count: int = 90) -> list[Event]:
    """A random stream: updates, replacements, deletes, exact redeliveries, late and
    very old records, over a few messages, users and hashtags."""
    rng = random.Random(seed)
    ids = [f"msg-{i}" for i in range(14)]
    offsets: dict[int, int] = defaultdict(int)
    clock = BASE
    sent: list[ScoredMessage] = []
    events: list[Event] = []
    for _ in range(count):
        clock += rng.uniform(0, 8)
        roll = rng.random()
        if sent and roll < 0.12:
            record = rng.choice(sent)  # the same record again (a redelivery upstream)
        else:
            event_time = clock
            if roll < 0.22:
                event_time = clock - rng.uniform(60, 200)  # late
            elif roll < 0.27:
                event_time = clock - 2_000  # beyond the message retention
            deleting = roll > 0.88
            record = ScoredMessage(
                id=rng.choice(ids),
                type="delete" if deleting else "update",
                event_time=event_time,
                received_at=clock,
                text=None if deleting else "t",
                user_id=None if deleting else rng.choice(["u1", "u2", None]),
                label=None if deleting else rng.choice(["positive", "neutral", "negative"]),
                score=0.0 if deleting else round(rng.uniform(-1, 1), 3),
                hashtags=[] if deleting else rng.sample(["launch", "help", "ux"], rng.randint(0, 2)),
                model_version="test",
            )
            sent.append(record)
        partition = partition_of(record.id)
        events.append((record, partition, offsets[partition]))
        offsets[partition] += 1
    return events


def fresh(table: dict) -> Aggregation:
    return Aggregation(table, AggregationSettings(**RULES))


def run(aggregation: Aggregation, events: list[Event], batch_sizes: list[int]) -> None:
    """Apply ``events`` in batches of the given sizes (the last size repeats), flushing each."""
    position, sizes = 0, list(batch_sizes)
    while position < len(events):
        size = sizes.pop(0) if len(sizes) > 1 else sizes[0]
        for record, partition, offset in events[position : position + size]:
            aggregation.apply(record, partition, offset)
        flush(aggregation.table, aggregation.drain())
        position += size


def flush(table: dict, writes: dict[int, list]) -> None:
    for partition_writes in writes.values():
        perform(table, partition_writes)


def perform(table: dict, writes: list) -> None:
    for key, value in writes:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value


def reference(events: list[Event]) -> dict:
    """The table after applying one event at a time, as the aggregator used to."""
    table: dict = {}
    run(fresh(table), events, [1])
    return table


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_writes_the_same_table_as_one_event_at_a_time(seed):
    events = stream(seed)
    for sizes in ([len(events)], [7], [1, 30, 2]):
        table: dict = {}
        run(fresh(table), events, sizes)
        assert table == reference(events), sizes


def test_the_stream_exercises_every_rule():
    """The random streams hit what the crash test must survive: replacements, deletes,
    redeliveries, late records, records refused beyond retention, and hashtags."""
    table = reference(stream(0)) | reference(stream(1))
    kinds = {key.split("|")[0] for key in table}
    assert {"total", "second", "minute", "user", "hashtag", "hashtag_minute",
            "hashtag_series"} <= kinds
    assert {"late", "expired", "watermark", "m"} <= kinds
    assert any(state.get("deleted") for key, state in table.items() if key.startswith("m|"))


def test_a_batch_writes_each_row_once():
    events = stream(3)
    aggregation = fresh({})
    for event in events:
        aggregation.apply(*event)
    writes = aggregation.drain()
    keys = [key for partition_writes in writes.values() for key, _ in partition_writes]
    assert len(keys) == len(set(keys))
    # One event at a time writes every row it changes each time; a batch coalesces them.
    single = fresh({})
    one_at_a_time = 0
    for event in events:
        single.apply(*event)
        one_at_a_time += sum(map(len, single.drain().values()))
    assert len(keys) < one_at_a_time / 2


def _crash_cases(writes: dict[int, list]):
    """(partition that crashed, writes it kept, whether other partitions kept theirs)."""
    for partition, partition_writes in writes.items():
        for kept in range(len(partition_writes) + 1):
            for others_flushed in (True, False):
                yield partition, kept, others_flushed


@pytest.mark.parametrize("seed", range(4))
def test_a_crash_between_any_two_writes_of_a_batch_loses_and_doubles_nothing(seed):
    events = stream(seed)
    expected = reference(events)
    split = len(events) // 3  # batch 1 is committed; batch 2 crashes while written
    before: dict = {}
    crashing = fresh(before)
    run(crashing, events[:split], [split])
    for event in events[split:]:  # buffered, not yet in ``before``
        crashing.apply(*event)
    writes = crashing.drain()
    assert sum(len(w) for w in writes.values()) > 20  # a batch worth killing
    cases = 0
    for partition, kept, others_flushed in _crash_cases(writes):
        table = dict(before)
        for other, other_writes in writes.items():
            if other == partition:
                perform(table, other_writes[:kept])
            elif others_flushed:
                perform(table, other_writes)
        # Restarted: every event from the last commit comes again, in new batches.
        run(fresh(table), events[split:], [5, 40])
        assert table == expected, (partition, kept, others_flushed)
        cases += 1
    assert cases > 40


def test_a_redelivered_event_whose_rows_were_written_is_not_counted_twice():
    """The smallest crash: the rows of a batch survived, its message states did not."""
    record = ScoredMessage(
        id="m1", type="update", event_time=BASE, received_at=BASE, text="t",
        label="negative", score=-0.5, hashtags=["help"], model_version="test",
    )
    partition = partition_of("m1")
    table: dict = {}
    aggregation = fresh(table)
    aggregation.apply(record, partition, 0)
    writes = aggregation.drain()[partition]
    perform(table, [(key, value) for key, value in writes if not key.startswith("m|")])
    assert "m|m1" not in table
    run(fresh(table), [(record, partition, 0)], [1])
    total = table[row_key("total", partition, "all")]
    assert (total["negative"], total[OFFSET]) == (1, 0)
    assert table[row_key("hashtag", partition, "help")]["negative"] == 1


def _changelogs(events: list[Event], batch_sizes: list[int]) -> dict[int, list]:
    """Every write of a run in batches, per partition, in changelog order."""
    logs: dict[int, list] = defaultdict(list)
    aggregation = fresh({})
    position, sizes = 0, list(batch_sizes)
    while position < len(events):
        size = sizes.pop(0) if len(sizes) > 1 else sizes[0]
        for event in events[position : position + size]:
            aggregation.apply(*event)
        for partition, writes in aggregation.drain().items():
            perform(aggregation.table, writes)
            logs[partition].extend(writes)
        position += size
    return logs


@pytest.mark.parametrize("seed", range(3))
def test_a_table_rebuilt_from_a_short_changelog_read_is_completed_from_its_applied_offset(seed):
    """Every event is committed, but recovery read only a prefix of one partition's
    changelog (a stale end offset): reading that partition's events again from the
    table's applied offset + 1 gives the table of a run that never stopped."""
    events = stream(seed)
    expected = reference(events)
    logs = _changelogs(events, [7])
    cases = differing = 0
    for partition, log in logs.items():
        for kept in range(len(log)):
            table: dict = {}
            for other, other_log in logs.items():
                perform(table, other_log[:kept] if other == partition else other_log)
            differing += table != expected
            applied = fresh(table).applied_offset(partition)
            start = 0 if applied is None else applied + 1
            again = [e for e in events if e[1] == partition and e[2] >= start]
            run(fresh(table), again, [5, 40])
            assert table == expected, (partition, kept, start)
            cases += 1
    assert cases > 100
    assert differing == cases  # each cut lost something the re-read had to restore


def test_a_short_table_is_read_again_from_after_its_applied_offset():
    applied = {0: 41, 1: None, 2: 99, 3: 7}.get
    committed = {TP("scored", 0): 50, TP("scored", 1): 12, TP("scored", 2): 100,
                 TP("scored", 3): None, TP("scored", 4): 0}
    assert rewinds(committed, applied) == {TP("scored", 0): 42, TP("scored", 1): 0}
