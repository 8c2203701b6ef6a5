"""Alerts against the three real services: a calm stream, then a burst of negative
messages, fires each rule once (on the ``alerts`` topic, at a webhook receiver started
here, in ``/v1/alerts`` and on the dashboard's banner); a SIGKILL of the aggregator and
the redelivery after it fire nothing again; a calm minute after it resolves it; a
replay of every event through the analyzer fires nothing new."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from moodstream_common import topics
from moodstream_dev import replay
from tests.helpers import eventually, group_caught_up, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SECRET = secrets.token_urlsafe(16)  # generated per run: a literal would be a secret in code
RULES = """
rules:
  - name: negative-spike
    metric: negative_share
    above: 0.5
    window_minutes: 1
    min_messages: 20
  - name: launch-sour
    metric: negative_share
    above: 0.5
    window_minutes: 1
    min_messages: 10
    hashtag: "#Launch"
"""
CALM = [
    "I love this, thank you so much, wonderful service! #launch",
    "What a fantastic, amazing day, everything works great #launch",
    "Great news, I am so happy with the new release",
]
ANGRY = [
    "This is terrible, I hate it, the worst launch ever #launch",
    "Awful, broken and disappointing, I am so angry #launch",
    "Horrible service, nothing works, I hate this update",
]
# Event times in the past, a minute apart at least, so each phase has its own window.
NOW = float(int(time.time()) // 60 * 60)
CALM_AT, BURST_AT, RECOVERY_AT = NOW - 300, NOW - 180, NOW - 60


class Receiver(BaseHTTPRequestHandler):
    """The webhook target: keeps every POST's headers and body."""

    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def webhook_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/moodstream"
    server.shutdown()


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory, webhook_url):
    rules = tmp_path_factory.mktemp("alerts") / "rules.yaml"
    rules.write_text(RULES)
    return {
        "AGGREGATOR_ALERT_RULES": str(rules),
        "AGGREGATOR_ALERT_WEBHOOK_URL": webhook_url,
        "AGGREGATOR_ALERT_WEBHOOK_SECRET": SECRET,
    }


def off_loop(function, *args, **kwargs):
    """Call ``function`` in another thread: Playwright's sync API runs an event loop in
    this one, where ``asyncio.run`` (used by the broker helpers) cannot start another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def post(ingest: str, prefix: str, count: int, texts: list[str], at: float) -> list[str]:
    ids = [f"{prefix}{n}" for n in range(count)]
    items = [
        {
            "id": message_id,
            "user_id": f"u_{n % 7}",
            "text": texts[n % len(texts)],
            "timestamp": at + n * 0.1,
            "type": "update",
        }
        for n, message_id in enumerate(ids)
    ]
    response = httpx.post(f"{ingest}/v1/messages:batch", json={"messages": items}, timeout=30)
    assert response.status_code == 200 and response.json()["accepted"] == count, response.text
    return ids


def alerts_view(aggregator: str) -> dict:
    return httpx.get(f"{aggregator}/v1/alerts", timeout=10).json()


def counted(aggregator: str, total: int) -> bool:
    return httpx.get(f"{aggregator}/v1/totals", timeout=10).json()["total"] == total


def webhook_records() -> list[dict]:
    records = []
    for headers, body in Receiver.received:
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Moodstream-Signature"] == signature
        assert SECRET not in json.dumps(headers) and SECRET.encode() not in body
        records.append(json.loads(body))
    return records


def aggregator_caught_up(broker, stack_prefix: str, topic: str, timeout: float) -> None:
    """Wait until the aggregator's group has consumed everything on ``topic``."""
    off_loop(
        group_caught_up,
        broker.bootstrap,
        f"{stack_prefix}moodstream-aggregator",
        topic,
        timeout=timeout,
    )


def topic_records(broker, topic: str) -> list[dict]:
    return [value for _, value in off_loop(read_topic, broker.bootstrap, topic)]


def stored_active(broker, changelog: str) -> set[str]:
    """Rules whose latest state in the ``alerts`` table's changelog has an active episode."""
    latest = {}
    for key, value in off_loop(read_topic, broker.bootstrap, changelog, quiet=0.5):
        latest[json.loads(key)] = value
    return {rule for rule, state in latest.items() if state and state.get("active")}


def transitions(records: list[dict]) -> list[tuple[str, str]]:
    return sorted((record["id"], record["state"]) for record in records)


def webhook_transitions() -> list[tuple[str, str]]:
    """The webhook's distinct ``(id, state)`` deliveries. It is at least once: the SIGKILL
    may repeat a record the aggregator had posted but not committed, and a repeat must
    be the same record, byte for byte."""
    bodies: dict[tuple[str, str], dict] = {}
    for record in webhook_records():
        key = (record["id"], record["state"])
        assert bodies.setdefault(key, record) == record, (bodies[key], record)
    return sorted(bodies)


def test_a_negative_burst_fires_each_rule_once_and_a_replay_fires_nothing(
    broker, stack, stack_prefix, page: Page
):
    ingest, analyzer, aggregator = stack["ingest"], stack["analyzer"], stack["aggregator"]
    alerts_topic = topics.ALERTS.name(stack_prefix)
    assert {rule["name"] for rule in alerts_view(aggregator.url)["rules"]} == {
        "negative-spike",
        "launch-sour",
    }

    post(ingest.url, "calm_", 40, CALM, CALM_AT)
    eventually(lambda: counted(aggregator.url, 40), timeout=120)
    # The rules were checked at the calm minute's event time: quiet.
    aggregator_caught_up(broker, stack_prefix, topics.ALERT_CHECKS.name(stack_prefix), timeout=60)
    assert alerts_view(aggregator.url)["active"] == []

    burst = post(ingest.url, "burst_", 40, ANGRY, BURST_AT)
    eventually(lambda: counted(aggregator.url, 80), timeout=120)
    labels = [httpx.get(f"{aggregator.url}/v1/messages/{m}").json()["label"] for m in burst]
    assert labels.count("negative") > 20, labels  # the model calls the burst negative
    active = eventually(
        lambda: (found := alerts_view(aggregator.url)["active"]) and len(found) == 2 and found,
        timeout=60,
    )
    assert {alert["id"] for alert in active} == {"negative-spike#1", "launch-sour#1"}
    spike = next(alert for alert in active if alert["rule"] == "negative-spike")
    assert spike["scope"] == "all" and spike["messages"] >= 20 and spike["value"] > 0.5
    assert spike["started_at"] >= BURST_AT

    page.goto(f"{aggregator.url}/dashboard")
    page.wait_for_function(
        "() => document.querySelector('#alerts').dataset.count === '2'", timeout=30_000
    )
    banner = page.inner_text("#alerts")
    assert "negative-spike" in banner and "launch-sour" in banner and "#launch" in banner
    assert page.is_visible("#alerts")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-alert.png"), full_page=True)

    # A redelivery: SIGKILL the aggregator once the episode is in its table's changelog,
    # restart it, and let more of the burst arrive. The rules are checked again against
    # the recovered state, and the episode is not fired a second time.
    changelog = f"{stack_prefix}moodstream-aggregator-alerts-changelog"
    eventually(
        lambda: stored_active(broker, changelog) == {"negative-spike", "launch-sour"}, timeout=60
    )
    aggregator.signal(signal.SIGKILL)
    aggregator.process.wait()
    aggregator.start()
    aggregator.wait_ready(90)
    post(ingest.url, "burst_more_", 10, ANGRY, BURST_AT + 10)
    eventually(lambda: counted(aggregator.url, 90), timeout=120)
    aggregator_caught_up(broker, stack_prefix, topics.ALERT_CHECKS.name(stack_prefix), timeout=60)
    assert transitions(topic_records(broker, alerts_topic)) == [
        ("launch-sour#1", "firing"),
        ("negative-spike#1", "firing"),
    ]
    assert {alert["id"] for alert in alerts_view(aggregator.url)["active"]} == {
        "negative-spike#1",
        "launch-sour#1",
    }

    post(ingest.url, "recovery_", 40, CALM, RECOVERY_AT)
    eventually(lambda: counted(aggregator.url, 130), timeout=120)
    view = eventually(
        lambda: (found := alerts_view(aggregator.url)) and len(found["recent"]) == 2 and found,
        timeout=60,
    )
    assert view["active"] == []
    assert {(alert["id"], alert["state"]) for alert in view["recent"]} == {
        ("negative-spike#1", "resolved"),
        ("launch-sour#1", "resolved"),
    }
    page.wait_for_function(
        "() => document.querySelector('#alerts').dataset.count === '0'", timeout=30_000
    )
    assert not page.is_visible("#alerts")

    expected = [
        ("launch-sour#1", "firing"),
        ("launch-sour#1", "resolved"),
        ("negative-spike#1", "firing"),
        ("negative-spike#1", "resolved"),
    ]
    eventually(lambda: webhook_transitions() == expected, timeout=60)
    assert transitions(topic_records(broker, alerts_topic)) == expected

    # Replay every raw event through the analyzer: the aggregates do not change, so no
    # rule sees anything new.
    analyzer.stop()
    group = f"{stack_prefix}moodstream-analyzer-raw"
    raw = topics.RAW.name(stack_prefix)
    off_loop(asyncio.run, replay.ensure_group_stopped(broker.bootstrap, group))
    plan = off_loop(asyncio.run, replay.plan(broker.bootstrap, group, raw, "earliest"))
    assert plan.records == 130
    off_loop(asyncio.run, replay.commit(broker.bootstrap, plan))
    analyzer.start()
    analyzer.wait_ready(90)
    assert off_loop(asyncio.run, replay.follow(broker.bootstrap, plan, timeout=180)) == (
        plan.records
    )
    aggregator_caught_up(broker, stack_prefix, topics.SCORED.name(stack_prefix), timeout=120)
    # One more calm message makes the rules be checked again after the replay.
    post(ingest.url, "after_", 1, CALM, RECOVERY_AT + 10)
    eventually(lambda: counted(aggregator.url, 131), timeout=120)
    aggregator_caught_up(broker, stack_prefix, topics.ALERT_CHECKS.name(stack_prefix), timeout=60)
    aggregator_caught_up(broker, stack_prefix, alerts_topic, timeout=60)

    assert transitions(topic_records(broker, alerts_topic)) == expected
    assert webhook_transitions() == expected
    after = alerts_view(aggregator.url)
    assert after["active"] == [] and len(after["recent"]) == 2
