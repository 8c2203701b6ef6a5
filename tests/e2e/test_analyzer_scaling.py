"""A second analyzer worker joining mid-stream shares the ``raw`` partitions: nothing is
lost, redelivered records are absorbed by the aggregator, counts stay exact."""

import asyncio
import json

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from moodstream_common import topics
from moodstream_dev.loadgen import LoadConfig, expected_live
from moodstream_dev.processes import ServiceProcess, free_port
from tests.helpers import eventually, group_caught_up, load_in_background

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def _ids(bootstrap, topic):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", fetch_max_wait_ms=100)
    await consumer.start()
    keys = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=2_000)
            if not batch:
                return keys
            keys += [json.loads(r.value)["id"] for records in batch.values() for r in records]
    finally:
        await consumer.stop()


def test_second_analyzer_joins_mid_stream_without_loss(broker, stack, stack_prefix, tmp_path):
    first = stack["analyzer"]
    port = free_port()
    second = ServiceProcess("analyzer", port, {**first.env, "ANALYZER_WEB_PORT": str(port)},
                            tmp_path / "analyzer-2.log")
    config = LoadConfig(count=600, rate=100, via="http", ingest_url=stack["ingest"].url,
                        seed=21, id_prefix="sc")
    sender, summary = load_in_background(config)
    try:
        eventually(lambda: httpx.get(f"{stack['aggregator'].url}/v1/totals").json()["total"] > 0,
                   timeout=60)
        second.start()
        second.wait_ready(90)
        sender.join(timeout=120)
        assert summary["errors"] == 0
        group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                        topics.RAW.name(stack_prefix), timeout=180)
        group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator",
                        topics.SCORED.name(stack_prefix), timeout=120)
        both = [httpx.get(f"{a.url}/readyz").json()["assigned_partitions"] for a in (first, second)]
        assert all(count > 0 for count in both), both  # the partitions are shared
    finally:
        second.stop()
    raw_ids = asyncio.run(_ids(broker.bootstrap, topics.RAW.name(stack_prefix)))
    scored_ids = asyncio.run(_ids(broker.bootstrap, topics.SCORED.name(stack_prefix)))
    assert set(scored_ids) == set(raw_ids)  # no message lost
    duplicates = len(scored_ids) - len(raw_ids)
    print(f"scored {len(scored_ids)} records for {len(raw_ids)} raw: {duplicates} redelivered")
    totals = httpx.get(f"{stack['aggregator'].url}/v1/totals").json()
    assert totals["total"] == expected_live(config)  # duplicates absorbed, none lost
