"""Before a worker starts: does the broker accept this service's SASL credentials?

With a wrong password Faust's worker fails its first bootstrap and exits, and a
supervisor restarts it into the same failure: a crash loop whose only trace is a
``KafkaConnectionError`` traceback per start. Instead, :func:`wait_for_credentials` asks
one broker first. If it refuses the credentials, the service logs one clear ERROR (which
setting, which user, never the password), keeps running with ``/healthz`` 200 and
``/readyz`` 503 saying why, and asks again with backoff; once the broker accepts them
(the user was created, say) the worker starts as usual.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from aiohttp import web
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed, UnsupportedSaslMechanismError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from moodstream_common.backoff import retry_delays

log = logging.getLogger("moodstream.worker")

REFUSED = "broker_credentials_refused"
"""``/readyz``'s ``reason`` while the broker refuses the credentials."""


async def refused_credentials(app: faust.App, host: str, port: int) -> str | None:
    """Why the broker at ``host:port`` refuses ``app``'s SASL credentials, or None.

    None also when there is nothing to check (no SASL) or the broker gave no answer about
    credentials (unreachable, timed out): Faust's own retries deal with those.
    """
    auth: dict[str, Any] = dict(credentials_to_aiokafka_auth(app.conf.broker_credentials))
    if not str(auth.get("security_protocol", "")).startswith("SASL"):
        return None
    try:
        connection = await create_conn(host, port, request_timeout_ms=10_000, **auth)
    except (SaslAuthenticationFailed, UnsupportedSaslMechanismError) as exc:
        return str(exc)
    except (OSError, TimeoutError, KafkaError):
        return None
    connection.close()
    return None


async def _probe_server(
    host: str, port: int, service: str, detail: str, refusals: list[int]
) -> web.AppRunner:
    """``/healthz`` 200 and ``/readyz`` 503 (with the reason, and how many times the
    broker has refused so far: ``refusals[0]``) on the service's own port."""

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": service})

    async def readyz(_request: web.Request) -> web.Response:
        return web.json_response(
            {"service": service, "ready": False, "reason": REFUSED, "detail": detail,
             "refusals": refusals[0]},
            status=503,
        )

    server = web.Application()
    server.router.add_get("/healthz", healthz)
    server.router.add_get("/readyz", readyz)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def _wait(app: faust.App, service: str, ceiling: float) -> None:
    host, port = next((url.host or "localhost", url.port or 9092) for url in app.conf.broker)
    reason = await refused_credentials(app, host, port)
    if reason is None:
        return
    credentials = app.conf.broker_credentials
    user = getattr(credentials, "username", "?")
    mechanism = getattr(getattr(credentials, "mechanism", None), "value", "?")
    log.error(
        "the broker at %s:%d refuses this service's credentials (SASL %s, user %r): %s. "
        "Check MOODSTREAM_BROKER_SASL_USERNAME and MOODSTREAM_BROKER_SASL_PASSWORD; "
        "/readyz answers 503 until the broker accepts them (asked again every %.0f s at most)",
        host, port, mechanism, user, reason, ceiling,
    )
    refusals = [1]
    runner = await _probe_server(app.conf.web_bind, app.conf.web_port, service,
                                 f"the broker refuses user {user!r} (SASL {mechanism})",
                                 refusals)
    try:
        for delay in retry_delays(first=1.0, ceiling=ceiling):
            await asyncio.sleep(delay)
            if await refused_credentials(app, host, port) is not None:
                refusals[0] += 1
            else:
                log.warning("the broker at %s:%d accepts the credentials now; starting",
                            host, port)
                return
    finally:
        await runner.cleanup()


def wait_for_credentials(app: faust.App, service: str, *, ceiling: float = 30.0) -> None:
    """Block until the broker accepts ``app``'s SASL credentials (at once without SASL)."""
    asyncio.run(_wait(app, service, ceiling))
