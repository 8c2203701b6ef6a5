"""The dashboard in headless Chromium against the three real services: messages posted
to ingest show up, without a page reload, in the rendered totals, the per-second chart's
data and the top hashtags; a failing fetch is reported politely and recovers.

Chromium is Debian's (/usr/bin/chromium, scripts/install_system_packages.sh), driven by the
``playwright`` package; ``playwright install`` is never run.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page

from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HASHTAG = "moodboard"


def test_dashboard_renders_posted_messages_live(stack, page: Page):
    ingest, aggregator = stack["ingest"].url, stack["aggregator"].url
    before = _json(f"{aggregator}/v1/totals")
    page.goto(f"{aggregator}/dashboard")
    _wait_updates(page, 1)
    # A reload would drop this marker: the page must update in place.
    page.evaluate("() => { window.__sameDocument = true; }")

    # Event times within one minute (the top-hashtags view shows the newest minute),
    # across two seconds (two bars of the per-second chart), and in the past.
    start = float(int(time.time()) // 60 * 60 - 40)
    messages = [
        ("dash_p1", start + 0.1, "I absolutely love this, wonderful! #moodboard #dashdemo"),
        ("dash_p2", start + 0.3, "What a fantastic, amazing day, I love it #moodboard"),
        ("dash_p3", start + 0.5, "Wonderful news, this is great and I am so happy #moodboard"),
        ("dash_n1", start + 0.7, "This is awful, I hate it #moodboard"),
        ("dash_n2", start + 1.2, "Terrible service, awful and disappointing, I hate it #moodboard"),
    ]
    for message_id, event_time, text in messages:
        response = httpx.post(
            f"{ingest}/v1/messages",
            json={
                "id": message_id,
                "user_id": "u_dash",
                "text": text,
                "timestamp": event_time,
                "type": "update",
            },
            timeout=10,
        )
        assert response.status_code == 202, response.text

    # What the aggregator holds for each message is what the page must show.
    states = {
        message_id: eventually(
            lambda m=message_id: _json(f"{aggregator}/v1/messages/{m}"), timeout=60
        )
        for message_id, _, _ in messages
    }
    assert states["dash_p1"]["label"] == "positive"
    assert states["dash_n1"]["label"] == "negative"
    expected = {label: before[label] for label in ("positive", "neutral", "negative")}
    for state in states.values():
        expected[state["label"]] += 1
    want_total = before["total"] + len(messages)

    page.wait_for_function(
        "(total) => Number(document.getElementById('totals').dataset.total) === total",
        arg=want_total,
        timeout=30_000,
    )
    first, second = _clock(start), _clock(start + 1)
    page.wait_for_function(
        "(label) => { const c = window.moodstreamDashboard.charts.seconds;"
        " return c && c.data.labels.includes(label); }",
        arg=second,
        timeout=30_000,
    )
    _wait_updates(page, window_state(page)["updates"] + 1)  # one full redraw after both

    totals = page.eval_on_selector("#totals", "e => ({...e.dataset})")
    assert int(totals["total"]) == want_total
    for label in ("positive", "neutral", "negative"):
        assert int(totals[label]) == expected[label], label
    assert page.inner_text("#total-count") == f"{want_total:,}"
    assert page.inner_text("#positive-count") == f"{expected['positive']:,}"
    assert page.inner_text("#negative-count") == f"{expected['negative']:,}"
    served = _json(f"{aggregator}/v1/totals")
    assert page.inner_text("#late-count") == str(served["late"])
    assert page.inner_text("#expired-count") == str(served["expired"])
    assert page.inner_text("#mean-score") == f"{served['mean_score']:+.2f}"
    assert page.get_attribute("#watermark", "data-watermark") == served["watermark"]

    # The per-second chart's data: one stacked bar per second, by label.
    chart = page.evaluate(
        "() => { const c = window.moodstreamDashboard.charts.seconds;"
        " return {labels: c.data.labels,"
        "         series: Object.fromEntries(c.data.datasets.map(d => [d.label, d.data]))}; }"
    )
    assert len(chart["labels"]) == 60 and chart["labels"][-1] == second
    per_second = {first: ["dash_p1", "dash_p2", "dash_p3", "dash_n1"], second: ["dash_n2"]}
    for clock, ids in per_second.items():
        at = chart["labels"].index(clock)
        for label in ("positive", "neutral", "negative"):
            want = sum(1 for m in ids if states[m]["label"] == label)
            assert chart["series"][label][at] == want, (clock, label)
        assert chart["series"]["mean score"][at] is not None

    # Top hashtags of the newest minute, rendered as list items with data attributes.
    item = page.locator(f'#top-hashtags li[data-hashtag="{HASHTAG}"]')
    assert item.get_attribute("data-count") == str(len(messages))
    assert f"#{HASHTAG}" in item.inner_text()
    assert (
        page.locator('#top-hashtags li[data-hashtag="dashdemo"]').get_attribute("data-count") == "1"
    )

    # Pinned trends: a click on a top hashtag pins it, the form pins another (typed as a
    # person would); each tile counts its hashtag's messages over the last hour.
    item.locator("button.pin").click()
    page.fill("#pin-input", "#DashDemo")
    page.click("#pin-form button[type=submit]")
    assert page.get_attribute("#trends", "data-pinned") == f"{HASHTAG},dashdemo"
    for tag, count in ((HASHTAG, len(messages)), ("dashdemo", 1)):
        page.wait_for_function(
            "([tag, n]) => { const t = document.querySelector(`.trend[data-hashtag='${tag}']`);"
            " return t && Number(t.dataset.total) === n; }",
            arg=[tag, count],
            timeout=15_000,
        )
    trend = page.evaluate(
        f"() => window.moodstreamDashboard.charts.trends['{HASHTAG}'].data.datasets"
        ".map(d => d.data.reduce((a, b) => a + (b || 0), 0))"
    )
    assert trend[:3] == [sum(1 for s in states.values() if s["label"] == label)
                         for label in ("positive", "neutral", "negative")]
    for tag in ("a1", "a2", "a3"):
        page.fill("#pin-input", tag)
        page.click("#pin-form button[type=submit]")
    page.fill("#pin-input", "a4")
    page.click("#pin-form button[type=submit]")
    assert "At most 5" in page.inner_text("#pin-error")
    assert page.locator(".trend").count() == 5
    page.click(".trend[data-hashtag='a3'] button.unpin")
    assert page.get_attribute("#trends", "data-pinned") == f"{HASHTAG},dashdemo,a1,a2"
    _wait_updates(page, window_state(page)["updates"] + 1)

    # The live feed: newest first; a click on a top hashtag filters it, so does the label.
    ids = [message_id for message_id, _, _ in messages]
    item.locator("button.tag").click()
    assert page.get_attribute("#feed-hashtag", "data-hashtag") == HASHTAG
    page.wait_for_function(
        "(n) => document.querySelectorAll('#feed li[data-id]').length === n "
        " && document.getElementById('feed').dataset.count == n",
        arg=len(messages),
        timeout=15_000,
    )
    shown = page.eval_on_selector_all("#feed li[data-id]", "els => els.map(e => e.dataset.id)")
    assert shown == list(reversed(ids))  # event times ascend with the ids
    assert page.inner_text("#feed li[data-id='dash_n2'] .text") == messages[-1][2]
    page.select_option("#feed-label", "negative")
    negatives = [m for m in reversed(ids) if states[m]["label"] == "negative"]
    page.wait_for_function(
        "(want) => JSON.stringify([...document.querySelectorAll('#feed li[data-id]')]"
        ".map(e => e.dataset.id)) === want",
        arg=json.dumps(negatives, separators=(",", ":")),
        timeout=15_000,
    )
    page.click("#feed-hashtag-clear")
    assert page.is_hidden("#feed-hashtag")
    page.select_option("#feed-label", "")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#feed li[data-id]').length >= n",
        arg=len(messages),
        timeout=15_000,
    )

    assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"
    assert page.get_attribute("#connection-status", "data-state") == "live"
    assert page.is_hidden("#connection-error")
    assert page.is_hidden("#charts-unavailable"), "Chart.js not vendored or failed to load"
    origin = urlsplit(aggregator).netloc
    fetched = {urlsplit(url).netloc for url in page.requested if url.startswith("http")}
    assert fetched == {origin}, "the page loaded something from elsewhere"
    assert page.problems == []

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_dashboard_reports_a_failing_fetch_and_recovers(stack, page: Page):
    aggregator = stack["aggregator"].url
    page.goto(f"{aggregator}/dashboard")
    _wait_updates(page, 1)
    page.route("**/v1/totals", lambda route: route.abort("connectionrefused"))
    page.wait_for_function(
        "() => document.getElementById('connection-status').dataset.state === 'error'",
        timeout=15_000,
    )
    banner = page.inner_text("#connection-error")
    assert page.is_visible("#connection-error")
    assert "Can't reach the aggregator" in banner and "Retrying automatically" in banner
    assert page.inner_text("#total-count") != ""  # the last data stays on screen
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-error.png"))

    page.unroute("**/v1/totals")
    updates = window_state(page)["updates"]
    _wait_updates(page, updates + 1, timeout=15_000)
    assert page.get_attribute("#connection-status", "data-state") == "live"
    assert page.is_hidden("#connection-error")


def window_state(page: Page) -> dict:
    """The dashboard's counters (``window.moodstreamDashboard``, without the charts)."""
    return page.evaluate(
        "() => { const s = window.moodstreamDashboard;"
        " return {updates: s.updates, errors: s.errors, lastUpdate: s.lastUpdate}; }"
    )


def _wait_updates(page: Page, count: int, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "(n) => window.moodstreamDashboard && window.moodstreamDashboard.updates >= n",
        arg=count,
        timeout=timeout,
    )


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%H:%M:%S")


def _json(url: str):
    response = httpx.get(url, timeout=5)
    return response.json() if response.status_code == 200 else None
