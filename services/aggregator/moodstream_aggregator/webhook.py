"""POST alert records to a webhook: signed, with a timeout, retried with backoff.

The receiver gets the alert as a JSON body and nothing secret: with a secret set, an
``X-Moodstream-Signature: sha256=<hex>`` header carries the HMAC-SHA256 of the exact
body, so the receiver can check the sender without the secret ever being sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from moodstream_common.backoff import retry_delays

log = logging.getLogger("moodstream.aggregator.webhook")
SIGNATURE_HEADER = "X-Moodstream-Signature"
# A 4xx other than these says the request itself is wrong: sending it again won't help.
RETRIED_CLIENT_ERRORS = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Webhook:
    """Where alerts are POSTed, and how hard to try."""

    url: str
    secret: str = ""
    timeout_seconds: float = 5.0
    attempts: int = 5


def body_of(alert: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed) for ``alert``."""
    return json.dumps(alert, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=<HMAC-SHA256(secret, body) hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver(
    hook: Webhook, alert: dict[str, Any], delays: Iterator[float] | None = None
) -> bool:
    """POST ``alert`` until the webhook answers 2xx or the attempts run out; ``True``
    when it was taken. Never raises for the webhook's failures: they are logged."""
    body = body_of(alert)
    headers = {"Content-Type": "application/json", "X-Moodstream-Alert-Id": str(alert["id"])}
    if hook.secret:
        headers[SIGNATURE_HEADER] = signature(hook.secret, body)
    waits = delays if delays is not None else retry_delays()
    async with httpx.AsyncClient(timeout=hook.timeout_seconds) as client:
        for attempt in range(1, hook.attempts + 1):
            try:
                response = await client.post(hook.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.is_success:
                    return True
                problem = f"HTTP {response.status_code}"
                if response.is_client_error and response.status_code not in RETRIED_CLIENT_ERRORS:
                    log.error("webhook refused alert %s (%s); not retried", alert["id"], problem)
                    return False
            if attempt == hook.attempts:
                break
            delay = next(waits)
            log.warning(
                "webhook attempt %d/%d for alert %s failed (%s); retrying in %.1fs",
                attempt,
                hook.attempts,
                alert["id"],
                problem,
                delay,
            )
            await asyncio.sleep(delay)
    log.error(
        "webhook gave up on alert %s after %d attempts (%s); it stays on the alerts topic",
        alert["id"],
        hook.attempts,
        problem,
    )
    return False
