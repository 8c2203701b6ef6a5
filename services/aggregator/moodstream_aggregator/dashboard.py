"""The live dashboard: ``GET /dashboard`` (one HTML page) and ``GET /static/...``.

The page polls the JSON views in :mod:`moodstream_aggregator.views` about once a
second and draws them with Chart.js. Chart.js is vendored into ``static/vendor/`` at
install time by ``scripts/vendor_dashboard.sh`` (pinned in
``services/aggregator/dashboard/package-lock.json``), so the browser loads every
script from this service and never from the internet; the Content-Security-Policy
below makes the browser enforce that.
"""

from __future__ import annotations

import logging
from pathlib import Path

from faust.web import Request, Response, View

from moodstream_aggregator.app import app

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
PAGE = STATIC_DIR / "dashboard.html"
CHART_JS = STATIC_DIR / "vendor" / "chart.umd.min.js"

# Same-origin only: scripts, styles and data all come from the aggregator itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@app.page("/dashboard")
class Dashboard(View):
    """The dashboard page (static HTML; its script fetches the data)."""

    async def get(self, request: Request) -> Response:
        """The page, with a same-origin-only Content-Security-Policy."""
        return self.html(
            _page_html(),
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )


def _page_html() -> str:
    # Read per request: a few KB, and edits show without a restart.
    return PAGE.read_text(encoding="utf-8")


# aiohttp's static route resolves paths inside STATIC_DIR only (no "../" escapes).
app.web.add_static("/static/", STATIC_DIR)

if not CHART_JS.is_file():
    logger.warning(
        "dashboard charts library missing (%s): run scripts/vendor_dashboard.sh; "
        "the page still shows totals and hashtags",
        CHART_JS,
    )
