"""The dashboard page and its assets are served by the aggregator's own web server,
with Chart.js vendored at the pinned version and nothing loaded from elsewhere."""

import json
import re
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from moodstream_aggregator import dashboard, views  # noqa: F401  (registers the pages)
from moodstream_aggregator.app import app

# The service's aiohttp Application is a module global bound to the first event loop
# that serves it, so every test here shares one loop.
pytestmark = pytest.mark.asyncio(loop_scope="session")

LOCK = Path(__file__).parents[3] / "services/aggregator/dashboard/package-lock.json"


@pytest_asyncio.fixture(loop_scope="session")
async def client():
    async with TestClient(TestServer(app.web.web_app)) as test_client:
        yield test_client


async def test_dashboard_page_is_served_with_same_origin_policy(client):
    response = await client.get("/dashboard")
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    html = await response.text()
    for element_id in (
        "total-count",
        "late-count",
        "mean-score",
        "top-hashtags",
        "chart-seconds",
        "chart-minutes",
        "connection-error",
    ):
        assert f'id="{element_id}"' in html
    # Every script and stylesheet comes from this server, none from a CDN.
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/vendor/chart.umd.min.js" in assets
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]


async def test_every_asset_the_page_references_is_served(client):
    html = await (await client.get("/dashboard")).text()
    local = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(local) == 3
    for asset in local:
        response = await client.get(asset)
        assert response.status == 200, asset
        assert len(await response.read()) > 500, asset


async def test_vendored_chartjs_is_the_pinned_version(client):
    pinned = json.loads(LOCK.read_text())["packages"]["node_modules/chart.js"]["version"]
    response = await client.get("/static/vendor/chart.umd.min.js")
    assert response.status == 200, "run scripts/vendor_dashboard.sh"
    assert "javascript" in response.content_type
    head = (await response.read())[:200].decode()
    assert f"Chart.js v{pinned}" in head


async def test_dashboard_script_exposes_state_for_tests(client):
    response = await client.get("/static/dashboard.js")
    assert response.status == 200
    assert "window.moodstreamDashboard" in await response.text()


async def test_static_route_does_not_serve_files_outside_static(client):
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/vendor/../../app.py"):
        response = await client.get(path)
        assert response.status in (403, 404), path
        assert "make_app" not in await response.text()
