"""Hostile input at load, through the whole pipeline: while two steady valid streams run
(HTTP batches and the input topic), the whole hostile corpus goes through both doors.
The valid streams keep their rate, every hostile record ends in ``raw`` or in the
dead-letter topic, the services stay ready, and every valid message ends up in the
aggregates exactly as sent.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from moodstream_common import topics
from moodstream_dev.loadgen import LoadConfig, generate
from moodstream_dev.loadgen import run as run_loadgen
from tests.corpus.hostile import HOSTILE_BODIES
from tests.helpers import eventually, group_caught_up, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

RATE = 20.0  # per valid stream, msg/s
COUNT = 400  # per valid stream: ~20 s


def _final_states(config: LoadConfig) -> dict[str, bool]:
    """Message id -> live (True) or deleted (False) after the run."""
    states: dict[str, bool] = {}
    for event in generate(config):
        states[event["id"]] = event["type"] != "delete"
    return states


def test_hostile_corpus_at_load_changes_nothing_valid(broker, stack, stack_prefix):
    ingest, aggregator = stack["ingest"].url, stack["aggregator"].url
    configs = [
        LoadConfig(count=COUNT, rate=RATE, via="http", ingest_url=ingest, seed=81,
                   id_prefix="vh", users=9, batch_size=20),
        LoadConfig(count=COUNT, rate=RATE, via="topic", bootstrap=broker.bootstrap,
                   topic=topics.EVENTS.name(stack_prefix), seed=82, id_prefix="vt", users=9,
                   batch_size=20),
    ]
    summaries: list[dict] = [{}, {}]
    senders = [
        threading.Thread(
            target=lambda i=i: summaries[i].update(
                asyncio.run(run_loadgen(configs[i], progress=False)).as_json()
            )
        )
        for i in range(2)
    ]
    for sender in senders:
        sender.start()

    # The corpus through the HTTP door, one request per body...
    statuses = []
    with httpx.Client(base_url=ingest, timeout=30) as client:
        for body in HOSTILE_BODIES:
            response = client.post("/v1/messages", content=body,
                                   headers={"content-type": "application/json"})
            statuses.append(response.status_code)
    # ...and through the input topic.

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for body in HOSTILE_BODIES:
                await producer.send(topics.EVENTS.name(stack_prefix), body)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(produce())
    assert all(service.ready() for service in stack.values())
    for sender in senders:
        sender.join(timeout=120)
    assert set(statuses) <= {202, 400, 413}, set(statuses)

    # The valid streams kept their rate and lost nothing at the door.
    for summary in summaries:
        assert summary["errors"] == 0, summary
        assert summary["sent"] == COUNT
        assert summary["per_second"] >= 0.9 * RATE, summary

    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-ingest-events",
                    topics.EVENTS.name(stack_prefix), timeout=120)
    raw = [v for _, v in read_topic(broker.bootstrap, topics.RAW.name(stack_prefix))]
    dead = [v for _, v in read_topic(broker.bootstrap, topics.DEAD_LETTERS.name(stack_prefix))]

    def hostile(records: list[dict], source: str) -> list[dict]:
        return [r for r in records if r["source"].startswith(source)
                and not str(r.get("id") or "").startswith(("vh_", "vt_"))]

    # Every hostile record is accounted for: in raw or a dead letter (413s are refused
    # at the door before being read, the only rejections without a dead letter).
    assert len(hostile(raw, "http")) == statuses.count(202)
    assert len(hostile(dead, "http")) == len(statuses) - statuses.count(202) - statuses.count(413)
    topic_source = f"topic:{topics.EVENTS.name(stack_prefix)}"
    assert len(hostile(raw, topic_source)) + len(hostile(dead, topic_source)) == len(
        HOSTILE_BODIES
    )

    # Every valid message is in the aggregates exactly as the generator left it.
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                    topics.RAW.name(stack_prefix), timeout=180)
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator",
                    topics.SCORED.name(stack_prefix), timeout=180)
    expected = {**_final_states(configs[0]), **_final_states(configs[1])}

    def wrong() -> list[str] | None:
        bad = []
        with httpx.Client(base_url=aggregator, timeout=10) as client:
            for message_id, live in expected.items():
                response = client.get(f"/v1/messages/{message_id}")
                counted = response.status_code == 200 and not response.json()["deleted"]
                if counted != live:
                    bad.append(message_id)
        return bad or None

    remaining = None
    try:
        eventually(lambda: wrong() is None or None, timeout=60)
    except AssertionError:
        remaining = wrong()
    assert remaining is None, f"{len(remaining or [])} valid messages wrong: {remaining[:5]}"
    assert all(service.ready() for service in stack.values())
