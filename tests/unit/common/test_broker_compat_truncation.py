"""Patch (h) resets a partition only on proof that the broker lost its log.

Replays the Fetch answers of a real loss report: a restarted aggregator fetched
``scored[1]`` at 446 and ``scored[0]`` at 465 (the group's committed offsets) and the
embedded broker, which had not restarted, answered high watermarks of 301, 307, 435.
Taking those for a truncated log discarded 76 local keys and lost 9 % of the messages.
A lagging watermark under the same cluster id must change nothing; a new cluster id
(a memory-storage broker that restarted) must still reset.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.metadata import MetadataRequest

from moodstream_common import broker_compat
from moodstream_common.broker_compat import _OutOfRangeFetches, truncation_evidence

TOPIC = "scored"


class FakeBroker:
    """Answers Metadata with ``cluster_id`` and Fetch with the queued high watermarks."""

    def __init__(self, cluster_id: str) -> None:
        self.cluster_id = cluster_id
        self.highwaters: list[dict[int, int]] = []
        self.metadata_requests = 0

    async def send(self, node_id, request, *args, **kwargs):
        if isinstance(request, MetadataRequest):
            self.metadata_requests += 1
            return SimpleNamespace(cluster_id=self.cluster_id)
        assert isinstance(request, FetchRequest)
        marks = self.highwaters.pop(0)
        return SimpleNamespace(topics=[
            (topic, [(partition, 0, marks[partition], marks[partition], [], b"")
                     for partition, _offset, _max in parts])
            for topic, parts in request.topics
        ])


def _fetch(offsets: dict[int, int]) -> FetchRequest:
    return FetchRequest(500, 1, 1 << 20, 0, [(TOPIC, [(p, o, 1 << 20) for p, o in offsets.items()])])


@pytest.fixture()
def truncations():
    seen: list = []
    broker_compat._truncation_listeners.append(lambda *args: seen.append(args))
    yield seen
    broker_compat._truncation_listeners.pop()


async def test_a_lagging_high_watermark_from_the_same_broker_resets_nothing(truncations, caplog):
    broker = FakeBroker("moodstream-dev-aaaa")
    client = _OutOfRangeFetches(broker)
    broker.highwaters = [{0: 307, 1: 301}, {0: 435, 1: 438}, {0: 470, 1: 450}]
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            response = await client.send(0, _fetch({0: 465, 1: 446}))
            codes = {part[0]: part[1] for _, parts in response.topics for part in parts}
            assert codes == {0: 0, 1: 0}  # never OFFSET_OUT_OF_RANGE
    assert truncations == []
    assert "high watermark lags" in caplog.text
    assert "resetting" not in caplog.text


async def test_a_broker_restarted_empty_is_proven_by_its_new_cluster_id(truncations, caplog):
    broker = FakeBroker("moodstream-dev-aaaa")
    client = _OutOfRangeFetches(broker)
    broker.highwaters = [{0: 500, 1: 500}, {0: 0, 1: 3}, {0: 0, 1: 9}]
    await client.send(0, _fetch({0: 465, 1: 446}))  # learns the cluster id
    broker.cluster_id = "moodstream-dev-bbbb"  # restarted with memory storage
    with caplog.at_level(logging.WARNING):
        response = await client.send(0, _fetch({0: 465, 1: 446}))
    codes = {part[0]: part[1] for _, parts in response.topics for part in parts}
    assert codes == {0: 1, 1: 1}  # OFFSET_OUT_OF_RANGE: the consumer resets
    assert sorted((tp.partition, offset) for tp, offset, _, _ in truncations) == [(0, 465), (1, 446)]
    assert all("cluster id changed" in evidence for *_, evidence in truncations)
    assert "moodstream-dev-bbbb" in caplog.text  # the log names the evidence
    # Reset once: the same partitions fetched past the end again are lag, not a loss.
    response = await client.send(0, _fetch({0: 465, 1: 446}))
    assert len(truncations) == 2


def test_only_a_changed_known_cluster_id_is_evidence():
    assert truncation_evidence("a", "a") is None
    assert truncation_evidence(None, "a") is None
    assert truncation_evidence("a", None) is None
    assert "changed" in truncation_evidence("a", "b")
