"""Faust's consumer fixes: a partition with nothing committed is read from its start after
Faust's seek, and a partition count of 0 is unknown."""

import asyncio
from types import SimpleNamespace

from faust.assignor.partition_assignor import PartitionAssignor
from faust.transport.drivers import aiokafka as driver
from faust.types import TP

from moodstream_common import faust_fixes

A, B, C, D = (TP("scored", n) for n in range(4))


def test_only_partitions_with_nothing_committed_are_uncommitted():
    assert faust_fixes.uncommitted({A: 12, B: None, C: 0, D: -1}) == [B, C, D]
    assert faust_fixes.uncommitted({A: 1}) == []
    # Changelogs are never committed: recovery positions them, not this fix.
    changelog = TP("app-aggregates-changelog", 0)
    assert faust_fixes.uncommitted({changelog: None, B: None}, {changelog.topic}) == [B]


def _thread(committed, reset="earliest"):
    """A consumer thread whose aiokafka consumer committed ``committed``."""
    sought: list[tuple] = []

    async def seek_to_beginning(*partitions):
        sought.append(partitions)

    thread = SimpleNamespace(
        app=SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset=reset),
                            tables=SimpleNamespace(changelog_topics={"app-t-changelog"})),
        seek_to_beginning=seek_to_beginning,
        call_thread=None,
    )
    return thread, sought


def test_the_guard_seeks_uncommitted_partitions_to_their_start(monkeypatch):
    committed = {A: 40, B: None, C: 0, TP("app-t-changelog", 0): None}

    async def original(self):
        return committed

    monkeypatch.setattr(driver.AIOKafkaConsumerThread, "seek_to_committed", original)
    # install() replaces these too: restored after the test by monkeypatch.
    monkeypatch.setattr(driver.AIOKafkaConsumerThread, "topic_partitions",
                        driver.AIOKafkaConsumerThread.topic_partitions)
    monkeypatch.setattr(PartitionAssignor, "assign", PartitionAssignor.assign)
    monkeypatch.setattr(faust_fixes, "_installed", False)
    faust_fixes.install()
    thread, sought = _thread(committed)
    result = asyncio.run(driver.AIOKafkaConsumerThread.seek_to_committed(thread))
    assert result == committed
    assert sought == [(B, C)]
    # With auto_offset_reset "latest" nothing moves: that setting means the end.
    thread, sought = _thread(committed, reset="latest")
    asyncio.run(driver.AIOKafkaConsumerThread.seek_to_committed(thread))
    assert sought == []


def test_a_partition_count_of_zero_is_unknown():
    assert faust_fixes.known_partition_count(0) is None
    assert faust_fixes.known_partition_count(None) is None
    assert faust_fixes.known_partition_count(4) == 4
