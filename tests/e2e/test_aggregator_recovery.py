"""Aggregator state survives a SIGKILL plus the loss of its local RocksDB store: the
tables are rebuilt from their changelogs and the views answer as before."""

import asyncio
import shutil
import signal
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
