"""Any Kafka client can use the topic door: librdkafka (``confluent-kafka``, the library
under kcat and most non-Python clients) writes update/delete events to ``events`` and they
are counted; a librdkafka consumer reads ``scored`` and ``aggregates``.

librdkafka cannot talk to the embedded broker at all (broker_compat (g)), so this runs on
the Kafka cluster only.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError, Producer

from moodstream_common import topics
from moodstream_dev.kafka import KafkaCluster
from moodstream_dev.loadgen import LoadConfig, generate
from tests.helpers import assert_views_exact, final_events, group_caught_up, hashtag_counts

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture(scope="module")
def broker(kafka_cluster: KafkaCluster) -> KafkaCluster:
    """librdkafka needs a real Kafka."""
    return kafka_cluster


def test_librdkafka_producer_and_consumer_use_the_topic_door(stack, stack_prefix,
                                                            kafka_cluster):
    aggregator = stack["aggregator"].url
    config = LoadConfig(count=300, via="topic", seed=77, id_prefix="rdk", users=20)
    final = final_events(config)
    base_total = httpx.get(f"{aggregator}/v1/totals", timeout=30).json()["total"]
    base_tags = hashtag_counts(aggregator)

    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5})
    failures: list[str] = []

    def delivered(error, _message) -> None:
        if error is not None:
            failures.append(str(error))

    for event in generate(config):
        producer.produce(topics.EVENTS.name(stack_prefix), key=event["id"].encode(),
                         value=json.dumps(event).encode(), on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0, "librdkafka still holds undelivered events"
    assert not failures, failures

    group_caught_up(kafka_cluster.bootstrap, f"{stack_prefix}moodstream-aggregator",
                    topics.SCORED.name(stack_prefix), timeout=180)
    assert_views_exact(aggregator, final, base_total, base_tags)

    consumer = Consumer({"bootstrap.servers": kafka_cluster.bootstrap,
                         "group.id": f"{stack_prefix}rdkafka-reader",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    scored_topic = topics.SCORED.name(stack_prefix)
    aggregates_topic = topics.AGGREGATES.name(stack_prefix)
    consumer.subscribe([scored_topic, aggregates_topic])
    scored_ids: set[str] = set()
    aggregates = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not (set(final) <= scored_ids and aggregates):
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                continue
            value = json.loads(message.value())
            if message.topic() == scored_topic:
                scored_ids.add(value["id"])
                assert message.key() == value["id"].encode()
            else:
                aggregates += 1
    finally:
        consumer.close()
    assert set(final) <= scored_ids, f"{len(set(final) - scored_ids)} ids never read from scored"
    assert aggregates > 0, "no aggregate snapshot read"


def test_no_embedded_broker_workaround_is_active_on_kafka(stack):
    # The embedded broker's patches (broker_compat) must never reach a Kafka deployment:
    # each service names the ones active in its process.
    for name, service in stack.items():
        health = httpx.get(f"{service.url}/healthz", timeout=10).json()
        assert health["broker_workarounds"] == [], (name, health)
