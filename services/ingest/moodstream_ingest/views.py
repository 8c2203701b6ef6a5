"""Ingest HTTP API.

``POST /v1/messages`` (one message), ``POST /v1/messages:batch`` (a JSON array or
``{"messages": [...]}``), ``POST /api/submit-message`` (legacy ``{"message": text}``),
``GET /openapi.json``, ``GET /healthz``.
"""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from moodstream_common.auth import authorized
from moodstream_common.errors import rejection_body
from moodstream_common.health import register_health_pages
from moodstream_common.metrics import register_metrics_page
from moodstream_common.tracing import tracer
from moodstream_ingest.amqp_status import BRIDGE
from moodstream_ingest.app import app, settings
from moodstream_ingest.intake import (
    LIMITS,
    BrokerUnavailable,
    Item,
    Outcome,
    accept,
    item_from_body,
    item_from_value,
)
from moodstream_ingest.normalize import Rejected, decode_json
from moodstream_ingest.openapi import openapi_document


def _error(view: View, status: int, reason: str, detail: str) -> Response:
    return view.json(rejection_body(reason, detail), status=status)


async def _accept(view: View, items: list[Item], *, source: str) -> list[Outcome] | Response:
    """:func:`accept` in a request span, or a 503 asking the client to retry when the
    broker is away."""
    try:
        with tracer().start_as_current_span("moodstream.ingest.http"):
            return await accept(items, source=source)
    except BrokerUnavailable:
        response = _error(
            view, 503, "broker_unavailable", "the broker is not answering; retry with the same ids"
        )
        response.headers["Retry-After"] = "5"
        return response


async def _read_body(view: View, request: Request) -> bytes | Response:
    """The request body, or a 4xx response when it is unauthorized or too large."""
    if not authorized(request.headers.get("Authorization"), settings.api_token):
        return _error(view, 401, "unauthorized", "a valid bearer token is required")
    length = request.content_length  # type: ignore[attr-defined]  # Faust's Request is aiohttp's
    if length is not None and length > LIMITS.max_body_bytes:
        return _error(view, 413, "body_too_large", f"body over {LIMITS.max_body_bytes} bytes")
    body: bytes = await request.read()
    if len(body) > LIMITS.max_body_bytes:
        return _error(view, 413, "body_too_large", f"body over {LIMITS.max_body_bytes} bytes")
    return body


async def _read_json(view: View, request: Request) -> tuple[Any, Response | None]:
    """The decoded JSON body and ``None``, or ``None`` and the 4xx response saying why not."""
    body = await _read_body(view, request)
    if not isinstance(body, bytes):  # an error response (401/413)
        return None, body
    try:
        return decode_json(body, max_bytes=LIMITS.max_body_bytes), None
    except Rejected as rejected:
        return None, _error(view, 400, rejected.reason, rejected.detail)


def _single_response(view: View, outcome: Outcome) -> Response:
    if outcome.accepted:
        return view.json(outcome.as_json(), status=202)
    status = 413 if outcome.reason == "body_too_large" else 400
    return view.json(outcome.as_json(), status=status)


@app.page("/v1/messages")
class Messages(View):
    """Accept one message."""

    async def post(self, request: Request) -> Response:
        """202 with the message id once it is in ``raw``; 4xx with a reason otherwise."""
        body = await _read_body(self, request)
        if not isinstance(body, bytes):  # an error response (401/413)
            return body
        outcomes = await _accept(self, [item_from_body(body)], source="http")
        if not isinstance(outcomes, list):  # a 503 response
            return outcomes
        return _single_response(self, outcomes[0])


@app.page("/v1/messages:batch")
class MessagesBatch(View):
    """Accept up to ``INGEST_MAX_BATCH_ITEMS`` messages; answer per item."""

    async def post(self, request: Request) -> Response:
        """200 with ``{"accepted": n, "rejected": n, "results": [...]}`` in input order."""
        parsed, refused = await _read_json(self, request)
        if refused is not None:
            return refused
        items = parsed.get("messages") if isinstance(parsed, dict) else parsed
        if not isinstance(items, list):
            return _error(self, 400, "not_a_batch", "expected a JSON array or {'messages': [...]}")
        if len(items) > settings.max_batch_items:
            return _error(
                self, 413, "batch_too_large", f"at most {settings.max_batch_items} items a batch"
            )
        outcomes = await _accept(self, [item_from_value(i) for i in items], source="http")
        if not isinstance(outcomes, list):  # a 503 response
            return outcomes
        results: list[dict[str, Any]] = [
            {"index": index, **outcome.as_json()} for index, outcome in enumerate(outcomes)
        ]
        accepted = sum(1 for outcome in outcomes if outcome.accepted)
        return self.json(
            {"accepted": accepted, "rejected": len(outcomes) - accepted, "results": results}
        )


@app.page("/api/submit-message")
class LegacySubmit(View):
    """Compatibility door for clients that send ``{"message": "<text>"}``."""

    async def post(self, request: Request) -> Response:
        """202 with a generated id, like ``/v1/messages``."""
        parsed, refused = await _read_json(self, request)
        if refused is not None:
            return refused
        if not isinstance(parsed, dict) or not isinstance(parsed.get("message"), str):
            return _error(self, 400, "missing_text", "expected {'message': '<text>'}")
        outcomes = await _accept(
            self, [item_from_value({"text": parsed["message"]})], source="http:legacy"
        )
        if not isinstance(outcomes, list):  # a 503 response
            return outcomes
        return _single_response(self, outcomes[0])


@app.page("/openapi.json")
class OpenAPI(View):
    """The OpenAPI 3 document of this API."""

    async def get(self, request: Request) -> Response:
        """The document, built from the live settings (limits, auth)."""
        return self.json(openapi_document(settings))


# The AMQP source (when on) must be subscribed to its queues: RabbitMQ drops what is
# published to a queue nobody has declared yet.
register_health_pages(app, "ingest", details=BRIDGE.readiness, also_ready=lambda: BRIDGE.ready)
register_metrics_page(app, "ingest")
