"""Aggregator state survives a SIGKILL plus the loss of its local RocksDB store: the
tables are rebuilt from their changelogs and the views answer as before."""

import asyncio
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest

from moodstream_common import topics
from moodstream_dev.loadgen import LoadConfig, expected_live
from moodstream_dev.loadgen import run as run_loadgen
from tests.helpers import eventually, group_caught_up

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _views(url):
    get = lambda path: httpx.get(f"{url}{path}", timeout=10).json()  # noqa: E731
    return {
        "totals": get("/v1/totals"),
        "minutes": get("/v1/sentiment/minutes?last=3"),
        "hashtags": get("/v1/hashtags"),
        "user": get("/v1/users/u_1"),
        "message": get("/v1/messages/rec_3"),
    }


def test_kill_and_delete_local_store_then_recover(broker, stack, stack_prefix):
    aggregator = stack["aggregator"]
    config = LoadConfig(count=200, via="http", ingest_url=stack["ingest"].url, seed=41,
                        id_prefix="rec", users=5)
    asyncio.run(run_loadgen(config, progress=False))
    live = expected_live(config)
    eventually(lambda: httpx.get(f"{aggregator.url}/v1/totals").json()["total"] == live,
               timeout=120)
    # Replacing updates do not change the total: wait until every record is applied.
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                    topics.RAW.name(stack_prefix), timeout=120)
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator",
                    topics.SCORED.name(stack_prefix), timeout=120)
    before = _views(aggregator.url)

    aggregator.signal(signal.SIGKILL)
    aggregator.process.wait(timeout=30)
    store = Path(aggregator.env["MOODSTREAM_DATA_DIR"]) / "aggregator"
    assert store.exists()
    shutil.rmtree(store)
    aggregator.start()
    waited = aggregator.wait_ready(90)
    print(f"aggregator ready {waited:.1f}s after restart with an empty local store")

    assert _views(aggregator.url) == before
    assert store.exists()  # rebuilt locally from the changelogs


FAULTS = Path(__file__).resolve().parents[1] / "faults"


def _caught_up(broker, stack_prefix):
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                    topics.RAW.name(stack_prefix), timeout=120)
    group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator",
                    topics.SCORED.name(stack_prefix), timeout=120)


def test_a_table_recovered_short_of_its_changelog_reads_the_source_again(broker, stack,
                                                                          stack_prefix):
    """Recovery stops 40 changelog records short of every partition's end (what a broker
    answering stale end offsets does) while the group has committed everything: the
    aggregator reads ``scored`` again from where its table ends, so deleting every
    message afterwards retracts each one, none left counted."""
    aggregator = stack["aggregator"]
    base = httpx.get(f"{aggregator.url}/v1/totals").json()["total"]
    config = LoadConfig(count=240, update_ratio=1.0, replace_ratio=0.2, via="http",
                        ingest_url=stack["ingest"].url, seed=43, id_prefix="short", users=5)
    asyncio.run(run_loadgen(config, progress=False))
    live = expected_live(config)
    eventually(lambda: httpx.get(f"{aggregator.url}/v1/totals").json()["total"] == base + live,
               timeout=120)
    _caught_up(broker, stack_prefix)

    healthy_env = aggregator.env
    aggregator.signal(signal.SIGKILL)
    aggregator.process.wait(timeout=30)
    aggregator.env = {**healthy_env, "PYTHONPATH": str(FAULTS),
                      "MOODSTREAM_FAULT_SHORT_CHANGELOG_READ": "40"}
    try:
        aggregator.start()
        aggregator.wait_ready(90)
        ids = sorted({f"short_{i}" for i in range(live)})
        deletes = [{"id": message_id, "type": "delete", "timestamp": time.time()} for message_id in ids]
        response = httpx.post(f"{stack['ingest'].url}/v1/messages:batch", json=deletes,
                              timeout=30)
        assert response.status_code == 200 and response.json()["rejected"] == 0
        _caught_up(broker, stack_prefix)
        log = aggregator.log_path.read_text(errors="replace")
        assert "fault injection: changelog ends read 40 short" in log
        assert httpx.get(f"{aggregator.url}/v1/totals").json()["total"] == base
        for message_id in ids:
            state = httpx.get(f"{aggregator.url}/v1/messages/{message_id}").json()
            assert state.get("deleted"), (message_id, state)
        assert "reading it again from" in log
    finally:
        aggregator.stop()
        aggregator.env = healthy_env
        aggregator.start()
        aggregator.wait_ready(90)
