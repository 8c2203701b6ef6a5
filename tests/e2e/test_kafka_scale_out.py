"""Scale-out on a real Kafka cluster: two analyzers and two aggregators share the work;
one aggregator is SIGKILLed mid-stream and a third one joins. Afterwards the surviving
workers answer every view alike, and what they count is exact (0 lost, 0 counted twice).

On Kafka a killed member keeps its partitions until its session times out (10 s for the
launcher's services), then the group rebalances; the standby copies of the table
partitions (``TABLE_STANDBY_REPLICAS``, default 1) let the survivors take over.
"""

from __future__ import annotations

import signal

import httpx
import pytest

from moodstream_common import topics
from moodstream_dev.kafka import KafkaCluster
from moodstream_dev.loadgen import LoadConfig
from tests.e2e.conftest import start_another
from tests.helpers import (
    assert_views_exact,
    eventually,
    final_events,
    group_caught_up,
    hashtag_counts,
    load_in_background,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.kafka]

VIEWS = ["/v1/totals", "/v1/sentiment/seconds?last=5", "/v1/sentiment/minutes?last=3",
         "/v1/hashtags", "/v1/hashtags/minute?n=3", "/v1/users/u_1",
         "/v1/messages?limit=40"]


@pytest.fixture(scope="module")
def broker(kafka_cluster: KafkaCluster) -> KafkaCluster:
    """Rebalances and standbys on a real cluster's group coordinator."""
    return kafka_cluster


def test_two_of_each_then_one_aggregator_dies_and_a_third_joins(stack, stack_prefix,
                                                               kafka_cluster, tmp_path):
    killed = stack["aggregator"]
    analyzer_2 = start_another(stack["analyzer"], tmp_path / "analyzer-2")
    aggregator_2 = start_another(killed, tmp_path / "aggregator-2")
    aggregator_3 = None
    try:
        eventually(lambda: all(w.ready() for w in (killed, aggregator_2, analyzer_2,
                                                   stack["analyzer"])), timeout=120)
        base_total = httpx.get(f"{aggregator_2.url}/v1/totals", timeout=30).json()["total"]
        base_tags = hashtag_counts(aggregator_2.url)
        config = LoadConfig(count=2_000, rate=250, via="http", ingest_url=stack["ingest"].url,
                            seed=4003, id_prefix="scale", users=30)
        final = final_events(config)
        sender, summary = load_in_background(config)
        try:
            eventually(lambda: httpx.get(f"{aggregator_2.url}/v1/totals", timeout=30)
                       .json()["total"] > base_total + 50, timeout=60)
            killed.signal(signal.SIGKILL)
            killed.process.wait(timeout=30)
            aggregator_3 = start_another(aggregator_2, tmp_path / "aggregator-3", timeout=180)
        finally:
            sender.join(timeout=300)
        assert not sender.is_alive() and summary["errors"] == 0, summary

        group_caught_up(kafka_cluster.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                        topics.RAW.name(stack_prefix), timeout=300)
        group_caught_up(kafka_cluster.bootstrap, f"{stack_prefix}moodstream-aggregator",
                        topics.SCORED.name(stack_prefix), timeout=300)
        survivors = (aggregator_2, aggregator_3)
        eventually(lambda: all(w.ready() for w in survivors), timeout=120)
        held = [httpx.get(f"{w.url}/readyz").json()["assigned_partitions"] for w in survivors]
        assert all(count > 0 for count in held), held
        for worker in survivors:
            assert_views_exact(worker.url, final, base_total, base_tags)
        for view in VIEWS:
            answers = [httpx.get(f"{w.url}{view}", timeout=10).json() for w in survivors]
            assert answers[0] == answers[1], view
    finally:
        for worker in (aggregator_3, aggregator_2, analyzer_2):
            if worker is not None:
                worker.stop()
