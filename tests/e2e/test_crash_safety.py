"""Crash safety under load: SIGKILL (and SIGTERM) the analyzer and the aggregator at
moments during a steady stream, restart them, and the aggregates still equal those of a
clean run: no message lost, none counted twice."""

import random
import signal
import time

import httpx
import pytest

from moodstream_common import topics
from moodstream_dev.loadgen import LoadConfig, expected_live, generate
from tests.helpers import group_caught_up, load_in_background

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _discards(service) -> int:
    return service.log_path.read_text(errors="replace").count("did not stop cleanly")


def _final_states(config):
    final = {}
    for event in generate(config):
        final[event["id"]] = event["type"]
    return final


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_restarts_under_load_lose_nothing_and_count_nothing_twice(broker, stack, stack_prefix,
                                                                  signum):
    config = LoadConfig(count=500, rate=70, via="http", ingest_url=stack["ingest"].url,
                        seed=31 + int(signum), id_prefix=f"crash{int(signum)}")
    base = httpx.get(f"{stack['aggregator'].url}/v1/totals").json()["total"]
    sender, summary = load_in_background(config)
    rng = random.Random(int(signum))
    discards_before = _discards(stack["aggregator"])
    for name in ("aggregator", "analyzer", "aggregator"):
        time.sleep(rng.uniform(1.0, 2.0))
        service = stack[name]
        service.signal(signum)
        service.process.wait(timeout=30)
        service.start()
        service.wait_ready(90)
    sender.join(timeout=120)
    assert summary["errors"] == 0
    # A crash leaves stores ahead of their changelogs: each restart after a SIGKILL
    # rebuilds them from the changelogs; a SIGTERM vouches for them and they are kept.
    assert _discards(stack["aggregator"]) - discards_before == (2 if signum == signal.SIGKILL
                                                                 else 0)
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                    topics.RAW.name(stack_prefix), timeout=180)
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator",
                    topics.SCORED.name(stack_prefix), timeout=180)
    aggregator = stack["aggregator"].url
    totals = httpx.get(f"{aggregator}/v1/totals").json()
    assert totals["total"] - base == expected_live(config)
    with httpx.Client(base_url=aggregator, timeout=10) as client:
        for message_id, kind in _final_states(config).items():
            state = client.get(f"/v1/messages/{message_id}").json()
            assert bool(state.get("deleted")) == (kind == "delete"), (message_id, state)
