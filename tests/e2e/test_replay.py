"""Replaying ``raw`` through the analyzer (as after a model change) leaves the aggregates
exactly as one clean pass left them: no double counting."""

import asyncio

import httpx
import pytest

from moodstream_common import topics
from moodstream_dev import replay
from moodstream_dev.loadgen import LoadConfig, expected_live
from moodstream_dev.loadgen import run as run_loadgen
from tests.helpers import eventually, group_caught_up

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def snapshot(aggregator: str) -> dict:
    get = lambda path: httpx.get(f"{aggregator}{path}", timeout=10).json()  # noqa: E731
    totals = get("/v1/totals")
    return {
        "totals": {k: totals[k] for k in ("positive", "neutral", "negative", "total", "mean_score")},
        "minutes": get("/v1/sentiment/minutes?last=5")["windows"],
        "hashtags": get("/v1/hashtags"),
    }


def test_replay_of_raw_does_not_double_count(broker, stack, stack_prefix):
    ingest, analyzer, aggregator = stack["ingest"], stack["analyzer"], stack["aggregator"]
    config = LoadConfig(count=300, via="http", ingest_url=ingest.url, batch_size=100, seed=11,
                        id_prefix="rp")
    summary = asyncio.run(run_loadgen(config, progress=False))
    assert summary.errors == 0 and summary.rejected == 0
    live = expected_live(config)
    eventually(lambda: httpx.get(f"{aggregator.url}/v1/totals").json()["total"] == live,
               timeout=120)
    scored = topics.SCORED.name(stack_prefix)
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator", scored, timeout=60)
    before = snapshot(aggregator.url)

    analyzer.stop()
    group = f"{stack_prefix}moodstream-analyzer-raw"
    raw = topics.RAW.name(stack_prefix)
    asyncio.run(replay.ensure_group_stopped(broker.bootstrap, group))
    plan = asyncio.run(replay.plan(broker.bootstrap, group, raw, "earliest"))
    assert plan.records == config.count  # every raw record is reprocessed
    asyncio.run(replay.commit(broker.bootstrap, plan))
    analyzer.start()
    analyzer.wait_ready(90)
    assert asyncio.run(replay.follow(broker.bootstrap, plan, timeout=180)) == plan.records
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator", scored, timeout=120)

    assert snapshot(aggregator.url) == before
    assert before["totals"]["total"] == live


def test_replay_refuses_a_running_group(broker, stack, stack_prefix):
    with pytest.raises(replay.ReplayError, match="stop the service first"):
        asyncio.run(replay.ensure_group_stopped(broker.bootstrap,
                                                f"{stack_prefix}moodstream-aggregator"))
