"""SIGKILL at load, on a busy machine: the aggregator or the analyzer is killed three
times while 3,000 events arrive over HTTP at 400 msg/s (restarted at once, so some kills
land during recovery) and two ``nice -n 19`` busy loops compete for the CPU. Afterwards every view equals what the test itself counts:
live messages in ``/v1/totals``, each hashtag's count in ``/v1/hashtags`` and every
message's state in ``/v1/messages/{id}``.

This is the reproduction of a real loss: a restarted aggregator took the embedded
broker's lagging Fetch high watermark for data loss and discarded table partitions it
should have kept (9 % of the live messages gone). Load makes that likely; the
deterministic cases live in ``tests/unit/common/test_broker_compat_truncation.py``.
"""

from __future__ import annotations

import random
import signal
import time

import httpx
import pytest

from moodstream_common import topics
from moodstream_dev.loadgen import LoadConfig
from tests.helpers import (
    assert_views_exact,
    final_events,
    group_caught_up,
    hashtag_counts,
    load_in_background,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

@pytest.fixture(scope="module")
def broker(embedded_broker):
    """The loss reproduced here came from the embedded broker's lagging watermarks, so this
    runs there (on Kafka: test_crash_safety and test_kafka_broker_failures)."""
    return embedded_broker


COUNT = 3_000
RATE = 400  # msg/s over HTTP: the issue asks for >= 300
KILLS = 3


@pytest.mark.parametrize("victim", ["aggregator", "analyzer"])
def test_sigkill_at_load_loses_nothing_and_counts_nothing_twice(
    broker, stack, stack_prefix, busy_cpu, victim
):
    aggregator = stack["aggregator"].url
    config = LoadConfig(count=COUNT, rate=RATE, via="http", ingest_url=stack["ingest"].url,
                        seed=1400 + len(victim), id_prefix=f"load-{victim}", users=50)
    final = final_events(config)
    base_total = httpx.get(f"{aggregator}/v1/totals", timeout=30).json()["total"]
    base_tags = hashtag_counts(aggregator)

    sender, summary = load_in_background(config)
    rng = random.Random(victim)
    service = stack[victim]
    # Every kill lands while the load runs (3,000 events take ~7.5 s), some of them
    # before the restarted worker has finished recovering.
    for _ in range(KILLS):
        time.sleep(rng.uniform(1.5, 2.5))
        service.signal(signal.SIGKILL)
        service.process.wait(timeout=30)
        service.start()
    service.wait_ready(180)
    sender.join(timeout=300)
    assert not sender.is_alive(), "the load generator did not finish"
    assert summary["errors"] == 0, summary
    assert summary["per_second"] >= 300, summary

    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                    topics.RAW.name(stack_prefix), timeout=300)
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator",
                    topics.SCORED.name(stack_prefix), timeout=300)

    assert_views_exact(aggregator, final, base_total, base_tags)
    # Discarded partitions are the symptom this test exists for: say so if one happened.
    log = stack["aggregator"].log_path.read_text(errors="replace")
    assert "built from the lost log" not in log
    # A batch's changelog writes fit Faust's producer buffer: no record read waited for
    # them to drain (agents.CHANGELOG_BUFFER_PER_RECORD).
    assert "producer buffer full" not in log
