"""Who may read the aggregator's views.

With ``AGGREGATOR_READ_TOKEN`` empty (the default) every view is public, as a
dashboard on a trusted network usually is. With a token set, every request needs
``Authorization: Bearer <token>`` except the probes (``/healthz``, ``/readyz``) and
the dashboard's shell (``/dashboard`` and ``/static/...``): those carry no data, and
the page's script sends the token on each data request. The token never travels in a
URL query, so no proxy or access log can record it; the dashboard takes it from the
URL *fragment* (``/dashboard#token=...``, never sent to the server) or a prompt.

Peers ask each other for ``/internal/rows`` with the same token (see
:mod:`moodstream_aggregator.scatter`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from moodstream_aggregator.app import app, settings
from moodstream_common.auth import authorized
from moodstream_common.errors import error_body

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/dashboard"})
PUBLIC_PREFIXES = ("/static/",)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_public(path: str) -> bool:
    """True for paths anyone may fetch even when a read token is configured."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def auth_headers() -> dict[str, str]:
    """Headers this worker sends to its peers (empty when views are public)."""
    token = settings.read_token.get_secret_value()
    return {"Authorization": f"Bearer {token}"} if token else {}


@web.middleware
async def require_read_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 401 with a reason unless the path is public or the bearer token matches."""
    if is_public(request.path) or authorized(
        request.headers.get("Authorization"), settings.read_token
    ):
        return await handler(request)
    return web.json_response(
        error_body("unauthorized", "a valid bearer token is required"),
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="moodstream"'},
    )


# Faust builds its aiohttp application at import; middlewares freeze only at start-up.
# (Faust types ``app.web`` as its abstract Web; the aiohttp driver's has ``web_app``.)
app.web.web_app.middlewares.append(require_read_token)  # type: ignore[attr-defined]  # aiohttp driver
