"""Broker failures on a real 3-node Kafka cluster, under load: the services ride them out.

While 3,000 events arrive over HTTP at 400 msg/s, the broker leading most ``raw`` and
``scored`` partitions is SIGKILLed and started again (or every broker is restarted in
turn). Afterwards every view equals what the test itself counts: live messages in
``/v1/totals``, each hashtag's count in ``/v1/hashtags`` and every message's state in
``/v1/messages/{id}`` (0 lost, 0 counted twice). Replication factor 3 and
``min.insync.replicas=2`` with idempotent ``acks=all`` producers are what make this hold;
only a real cluster can show it (the embedded broker has one node and keeps nothing).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from moodstream_common import topics
from moodstream_dev.kafka import KafkaCluster
from moodstream_dev.loadgen import LoadConfig
from tests.helpers import (
    assert_views_exact,
    eventually,
    final_events,
    group_caught_up,
    hashtag_counts,
    load_in_background,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.kafka]

COUNT = 3_000
RATE = 400  # msg/s over HTTP


@pytest.fixture(scope="module")
def broker(kafka_cluster: KafkaCluster) -> KafkaCluster:
    """Only a real cluster has brokers to lose."""
    return kafka_cluster


@pytest.fixture(autouse=True)
def _every_node_back(kafka_cluster: KafkaCluster):
    """Whatever a test did to the nodes, the next test (and module) gets all three."""
    yield
    for node in kafka_cluster.nodes:
        if not node.running:
            kafka_cluster.start_node(node.node_id)


def _under_load(stack, stack_prefix: str, cluster: KafkaCluster, seed: int, name: str,
                disturb: Callable[[], None]) -> dict:
    """Send the load, call ``disturb`` once the aggregator counts the first messages, and
    check every view once all of it is through. Returns the load's summary."""
    aggregator = stack["aggregator"].url
    config = LoadConfig(count=COUNT, rate=RATE, via="http", ingest_url=stack["ingest"].url,
                        seed=seed, id_prefix=name, users=50)
    final = final_events(config)
    base_total = httpx.get(f"{aggregator}/v1/totals", timeout=30).json()["total"]
    base_tags = hashtag_counts(aggregator)

    sender, summary = load_in_background(config)
    try:
        # The stream is flowing end to end before anything fails.
        eventually(lambda: httpx.get(f"{aggregator}/v1/totals", timeout=30).json()["total"]
                   > base_total + 50, timeout=60)
        disturb()
    finally:
        sender.join(timeout=300)
    assert not sender.is_alive(), "the load generator did not finish"
    # During an election ingest may answer 503 + Retry-After; loadgen sends those events
    # again (summary["retried"]), and none may fail for good.
    assert summary["errors"] == 0, summary["error_samples"]
    assert cluster.running, "every broker is back"

    group_caught_up(cluster.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                    topics.RAW.name(stack_prefix), timeout=300)
    group_caught_up(cluster.bootstrap, f"{stack_prefix}moodstream-aggregator",
                    topics.SCORED.name(stack_prefix), timeout=300)
    assert_views_exact(aggregator, final, base_total, base_tags)
    for service in stack.values():
        assert service.running, f"{service.name} exited: see {service.log_path}"
    return summary


def test_sigkill_of_the_busiest_broker_under_load_loses_nothing(stack, stack_prefix,
                                                                 kafka_cluster):
    hot = [topics.RAW.name(stack_prefix), topics.SCORED.name(stack_prefix)]
    killed: list[int] = []

    def kill_the_busiest_and_restart() -> None:
        victim = kafka_cluster.leaders(hot).most_common(1)[0][0]
        killed.append(victim)
        kafka_cluster.kill_node(victim)
        # Its partitions get new leaders (after the controller misses its heartbeats)
        # while the load goes on; then it comes back and catches up as a follower.
        eventually(lambda: victim not in kafka_cluster.leaders(hot), timeout=60, interval=0.5)
        kafka_cluster.start_node(victim)

    summary = _under_load(stack, stack_prefix, kafka_cluster, seed=4001, name="bkill",
                          disturb=kill_the_busiest_and_restart)
    print(f"killed node {killed[0]}; load {summary['per_second']} msg/s, "
          f"{summary['retried']} events sent again after a 503")


def test_rolling_restart_of_every_broker_under_load_loses_nothing(stack, stack_prefix,
                                                                  kafka_cluster):
    def restart_each_in_turn() -> None:
        for node in kafka_cluster.nodes:
            kafka_cluster.stop_node(node.node_id)
            kafka_cluster.start_node(node.node_id)

    summary = _under_load(stack, stack_prefix, kafka_cluster, seed=4002, name="roll",
                          disturb=restart_each_in_turn)
    print(f"rolling restart; load {summary['per_second']} msg/s, "
          f"{summary['retried']} events sent again after a 503")
