"""Tokens on a real stack: intake and every data view refuse requests without the bearer
token, probes and the dashboard shell stay public, the dashboard in Chromium works once
given the token, and no service writes a secret to its log."""

from __future__ import annotations

import secrets

import httpx
import pytest
from playwright.sync_api import Page

from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# Generated per run: a literal here would be a secret in the code.
INTAKE_TOKEN = secrets.token_urlsafe(24)
READ_TOKEN = secrets.token_urlsafe(24)
SASL_PASSWORD = secrets.token_urlsafe(24)

DATA_VIEWS = [
    "/v1/totals",
    "/v1/sentiment/seconds?last=5",
    "/v1/sentiment/minutes?last=5",
    "/v1/hashtags",
    "/v1/hashtags/minute?n=3",
    "/v1/users/u_1",
    "/v1/messages/a_1",
    "/v1/messages?limit=5",
    "/v1/hashtags/launch/minutes?last=5",
    "/v1/alerts",
    "/internal/rows?kind=total&keys=all",
    "/internal/feed?limit=5",
    "/internal/alerts",
    "/refresh_react_num_per_sec",
    "/refresh_react_num_per_min",
    "/refresh_top_five_hashtags_per_min",
    "/metrics",
]
PUBLIC = ["/healthz", "/readyz", "/dashboard", "/static/dashboard.js"]


@pytest.fixture(scope="module")
def stack_env():
    """Every service gets the tokens (and a SASL password that must never be logged)."""
    return {
        "INGEST_API_TOKEN": INTAKE_TOKEN,
        "AGGREGATOR_READ_TOKEN": READ_TOKEN,
        "MOODSTREAM_BROKER_SASL_PASSWORD": SASL_PASSWORD,
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_intake_needs_the_token(stack):
    ingest = stack["ingest"].url
    body = {"id": "a_1", "text": "token holders are welcome", "user_id": "u_1"}
    refused = httpx.post(f"{ingest}/v1/messages", json=body, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "unauthorized"
    wrong = httpx.post(f"{ingest}/v1/messages", json=body, headers=_bearer(READ_TOKEN))
    assert wrong.status_code == 401, "the read token must not open intake"
    accepted = httpx.post(f"{ingest}/v1/messages", json=body, headers=_bearer(INTAKE_TOKEN))
    assert accepted.status_code == 202, accepted.text


@pytest.mark.parametrize("path", DATA_VIEWS)
def test_data_views_need_the_read_token(stack, path):
    aggregator = stack["aggregator"].url
    refused = httpx.get(f"{aggregator}{path}", timeout=10)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.json() == {"reason": "unauthorized",
                              "detail": "a valid bearer token is required"}
    assert httpx.get(f"{aggregator}{path}", headers=_bearer("x" + READ_TOKEN)).status_code == 401
    allowed = httpx.get(f"{aggregator}{path}", headers=_bearer(READ_TOKEN), timeout=10)
    assert allowed.status_code in (200, 404), (path, allowed.status_code, allowed.text)


@pytest.mark.parametrize("path", PUBLIC)
def test_probes_and_dashboard_shell_stay_public(stack, path):
    response = httpx.get(f"{stack['aggregator'].url}{path}", timeout=10)
    assert response.status_code == 200, (path, response.status_code)


def test_dashboard_asks_for_the_token_then_shows_data(stack, page: Page):
    ingest, aggregator = stack["ingest"].url, stack["aggregator"].url
    posted = httpx.post(
        f"{ingest}/v1/messages",
        json={"id": "a_2", "text": "I love this #gated dashboard", "user_id": "u_2"},
        headers=_bearer(INTAKE_TOKEN),
    )
    assert posted.status_code == 202
    eventually(
        lambda: httpx.get(f"{aggregator}/v1/messages/a_2", headers=_bearer(READ_TOKEN)).status_code
        == 200,
        timeout=60,
    )
    page.goto(f"{aggregator}/dashboard")
    page.wait_for_function(
        "() => window.moodstreamDashboard && window.moodstreamDashboard.needsToken === true",
        timeout=20_000,
    )
    assert page.locator("#token-form").is_visible()
    assert page.locator("#connection-status").inner_text() == "Token needed"

    page.fill("#token-input", READ_TOKEN)
    page.click("#token-form button[type=submit]")
    page.wait_for_function("() => window.moodstreamDashboard.updates >= 1", timeout=20_000)
    assert page.locator("#token-form").is_hidden()
    assert int(page.locator("#total-count").inner_text().replace(",", "")) >= 1
    # The browser logs the refused requests themselves; anything else is a script error.
    errors = [p for p in page.problems if "status of 401" not in p]  # type: ignore[attr-defined]  # set on the page by the conftest fixture
    assert not errors, errors


def test_dashboard_takes_the_token_from_the_fragment_and_forgets_it_from_the_url(
    stack, page: Page
):
    aggregator = stack["aggregator"].url
    page.goto(f"{aggregator}/dashboard#token={READ_TOKEN}")
    page.wait_for_function("() => window.moodstreamDashboard.updates >= 1", timeout=20_000)
    assert READ_TOKEN not in page.url
    # The fragment never reaches the server: no requested URL carries the token.
    assert not [u for u in page.requested if READ_TOKEN in u]  # type: ignore[attr-defined]  # set on the page by the conftest fixture


def test_no_secret_in_any_log(stack):
    # Give every service something to log about first, including a refused request.
    httpx.post(f"{stack['ingest'].url}/v1/messages", json={"text": "no token"}, timeout=10)
    httpx.get(f"{stack['aggregator'].url}/v1/totals", headers=_bearer("wrong"), timeout=10)
    # Both were answered, and logging handlers flush each line as it is written.
    for service in stack.values():
        log = service.log_path.read_text(encoding="utf-8", errors="replace")
        assert log, f"{service.name} wrote no log at all"
        for secret in (INTAKE_TOKEN, READ_TOKEN, SASL_PASSWORD):
            assert secret not in log, f"{service.name} logged a secret"
