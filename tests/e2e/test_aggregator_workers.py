"""Two aggregator workers split the partitions; every view answers the same whichever
worker is asked, and the answer counts every message once. The views are token-protected,
so the workers' peer requests must carry the token too."""

import asyncio
import secrets

import httpx
import pytest

from moodstream_aggregator.contributions import summarize
from moodstream_common import topics
from moodstream_dev.loadgen import LoadConfig, expected_live
from moodstream_dev.loadgen import run as run_loadgen
from tests.e2e.conftest import start_another
from tests.helpers import eventually, group_caught_up

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

READ_TOKEN = secrets.token_urlsafe(16)
AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}

VIEWS = ["/v1/totals", "/v1/sentiment/seconds?last=5", "/v1/sentiment/minutes?last=3",
         "/v1/hashtags", "/v1/hashtags/minute?n=3", "/v1/hashtags/launch/minutes?last=3",
         "/v1/users/u_1", "/v1/messages/w_4", "/v1/messages?limit=40",
         "/v1/messages?label=negative&limit=7"]


@pytest.fixture(scope="module")
def stack_env():
    """Both aggregator workers require the read token."""
    return {"AGGREGATOR_READ_TOKEN": READ_TOKEN}


def test_views_agree_across_two_aggregator_workers(broker, stack, stack_prefix, tmp_path):
    first = stack["aggregator"]
    second = start_another(first, tmp_path)
    try:
        eventually(lambda: first.ready() and second.ready(), timeout=60)
        config = LoadConfig(count=300, via="http", ingest_url=stack["ingest"].url, seed=51,
                            id_prefix="w", users=5)
        asyncio.run(run_loadgen(config, progress=False))
        group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-analyzer-raw",
                        topics.RAW.name(stack_prefix), timeout=180)
        group_caught_up(broker.bootstrap, f"{stack_prefix}moodstream-aggregator",
                        topics.SCORED.name(stack_prefix), timeout=180)
        held = [httpx.get(f"{w.url}/readyz").json()["assigned_partitions"] for w in (first, second)]
        assert all(count > 0 for count in held), held
        live = expected_live(config)
        eventually(lambda: all(httpx.get(f"{w.url}/v1/totals", headers=AUTH).json()["total"] == live
                               for w in (first, second)), timeout=60)
        # Each worker owns a share of the partitions; the public view sums both shares.
        shares = [httpx.get(f"{w.url}/internal/rows", params={"kind": "total", "keys": "all"},
                            headers=AUTH)
                  .json()["rows"]["all"] for w in (first, second)]
        counted = [summarize(share)["total"] for share in shares]
        assert all(count > 0 for count in counted) and sum(counted) == live, counted
        for view in VIEWS:
            answers = [httpx.get(f"{w.url}{view}", headers=AUTH, timeout=10).json() for w in (first, second)]
            assert answers[0] == answers[1], view
        # The feed, paged through from either worker, lists every live message once.
        seen, cursor = [], None
        while True:
            params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            page = httpx.get(f"{second.url}/v1/messages", params=params, headers=AUTH).json()
            seen += [message["id"] for message in page["messages"]]
            if not (cursor := page["next"]):
                break
        assert len(seen) == len(set(seen)) == live, (len(seen), live)
        trend = httpx.get(f"{first.url}/v1/hashtags/launch/minutes?last=3", headers=AUTH).json()
        assert sum(window["total"] for window in trend["windows"]) > 0, trend
    finally:
        second.stop()
