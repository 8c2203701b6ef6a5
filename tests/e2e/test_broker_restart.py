"""The embedded broker stops and comes back under running services.

What a user sees (README, "When the broker goes away"): no service exits or restarts;
each logs the outage a few lines per 10 s instead of ten per second; after the broker
returns every service is ready again without a restart, and the pipeline counts new
messages exactly. The embedded broker keeps nothing in memory storage, so what it held
is gone: the aggregator notices that its local state is ahead of the (now empty)
changelog, says so once per partition, and rebuilds from the broker instead of
crash-looping on Faust's consistency check.
"""

from __future__ import annotations

import time

import httpx
import pytest

from moodstream_common import topics
from moodstream_dev.broker import EmbeddedBroker, create_topics, free_port
from moodstream_dev.processes import SERVICES, ServiceProcess, service_env
from tests.e2e.conftest import MODEL_PATH
from tests.helpers import eventually, group_caught_up

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# One line per kind of aiokafka error per 10 s, plus Faust's own few: far below the
# ~10 lines a second per client it logs without the throttle.
MAX_LOG_LINES_DURING_OUTAGE = 150


def _post(ingest: str, prefix: str, count: int) -> None:
    batch = [
        {"id": f"{prefix}_{i}", "text": "what a good day" if i % 2 else "a bad day"}
        for i in range(count)
    ]
    # As a client should: on 503 retry after Retry-After, with the same ids.
    deadline = time.monotonic() + 90
    while True:
        response = httpx.post(f"{ingest}/v1/messages:batch", json=batch, timeout=60)
        if response.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(float(response.headers["Retry-After"]))
    assert response.status_code == 200, response.text
    assert all(item["status"] == "accepted" for item in response.json()["results"])


def _total(aggregator: str) -> int | None:
    try:
        return httpx.get(f"{aggregator}/v1/totals", timeout=5).json()["total"]
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def _readyz(service: ServiceProcess) -> dict:
    try:
        return httpx.get(f"{service.url}/readyz", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return {}


def _line_count(service: ServiceProcess) -> int:
    return len(service.log_path.read_text(errors="replace").splitlines())


def test_services_ride_out_a_broker_restart(tmp_path):
    port = free_port()
    broker = EmbeddedBroker(port=port, log_path=tmp_path / "broker-1.log").start()
    services: dict[str, ServiceProcess] = {}
    try:
        create_topics(broker.bootstrap, topics.ALL_TOPICS)
        for name in SERVICES:
            web_port = free_port()
            env = service_env(
                name, broker=broker, port=web_port, data_dir=tmp_path / "state",
                extra={"ANALYZER_MODEL_PATH": str(MODEL_PATH)},
            )
            services[name] = ServiceProcess(name, web_port, env, tmp_path / f"{name}.log")
            services[name].start()
        for service in services.values():
            service.wait_ready(90)
        ingest, aggregator = services["ingest"].url, services["aggregator"].url
        # The guard and the truncation listener empty RocksDB partitions: the real store.
        assert list((tmp_path / "state" / "aggregator").rglob("*.db")), "no RocksDB store"

        _post(ingest, "before", 10)
        eventually(lambda: _total(aggregator) == 10, timeout=90)

        lines_before = {name: _line_count(s) for name, s in services.items()}
        rebalances_before = {name: _readyz(s)["rebalances"] for name, s in services.items()}
        broker.stop()
        started = time.monotonic()
        refused = httpx.post(
            f"{ingest}/v1/messages", json={"id": "during_1", "text": "anyone there?"}, timeout=60
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["reason"] == "broker_unavailable"
        assert refused.headers["Retry-After"] == "5"
        assert time.monotonic() - started < 20, "intake must answer, not hang"
        # The outage lasts until every service has noticed it (not ready, out of touch
        # with its group) and the aggregator has throttled its errors for a 10 s window.
        def _outage_noticed() -> bool:
            states = [_readyz(service) for service in services.values()]
            throttled = "similar in 10s" in services["aggregator"].log_path.read_text(
                errors="replace"
            )
            return throttled and all(
                (state.get("ready"), state.get("group_coordinator")) == (False, False)
                for state in states
            )

        eventually(_outage_noticed, timeout=60, interval=0.5)
        for name, service in services.items():
            assert service.process.poll() is None, f"{name} exited while the broker was away"
            logged = _line_count(service) - lines_before[name]
            assert logged < MAX_LOG_LINES_DURING_OUTAGE, f"{name} logged {logged} lines"

        broker = EmbeddedBroker(port=port, log_path=tmp_path / "broker-2.log").start()
        create_topics(broker.bootstrap, topics.ALL_TOPICS)
        # Ready again means re-joined: a worker that has not noticed the restart yet
        # still holds positions in logs that no longer exist.
        for name, service in services.items():
            eventually(
                lambda s=service, n=name: (state := _readyz(s)).get("ready") is True
                and state["rebalances"] > rebalances_before[n],
                timeout=120,
            )
        _post(ingest, "after", 10)
        # Memory storage: the first ten went with the broker; the new ten count once.
        # (The 503'd message may or may not have reached the broker; it is not counted
        # here because its producer buffer died with the old connection or it came
        # before the topics were recreated. Clients retry it with the same id.)
        eventually(
            lambda: all(
                httpx.get(f"{aggregator}/v1/messages/after_{i}", timeout=5).status_code == 200
                for i in range(10)
            ),
            timeout=120,
        )
        assert httpx.get(f"{aggregator}/v1/messages/before_3", timeout=5).status_code == 404
        # Everything sent has been scored and applied, so no late record can still count.
        group_caught_up(broker.bootstrap, "moodstream-analyzer-raw", topics.RAW.name(""), timeout=120)
        group_caught_up(
            broker.bootstrap, "moodstream-aggregator", topics.SCORED.name(""), timeout=120
        )
        totals = httpx.get(f"{aggregator}/v1/totals", timeout=5).json()
        during = httpx.get(f"{aggregator}/v1/messages/during_1", timeout=5).status_code == 200
        assert totals["total"] == 10 + during, totals
        log = services["aggregator"].log_path.read_text(errors="replace")
        # The loss was recognized by proof, and the log names it: a new cluster id.
        assert "restarted empty" in log or "the broker lost data" in log
        assert "cluster id changed" in log
        assert "ConsistencyError" not in log
        for name, service in services.items():
            assert service.process.poll() is None, f"{name} exited after the broker returned"
    finally:
        for service in services.values():
            service.stop()
        broker.stop()
