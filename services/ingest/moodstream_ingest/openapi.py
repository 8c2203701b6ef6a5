"""The OpenAPI 3.0 document of the ingest HTTP API, kept beside the views it describes."""

from __future__ import annotations

from typing import Any

from moodstream_ingest.settings import Settings

_REJECTION = {
    "type": "object",
    "required": ["status", "reason", "detail"],
    "properties": {
        "status": {"type": "string", "enum": ["rejected"]},
        "reason": {"type": "string"},
        "detail": {"type": "string"},
    },
}
_ACCEPTED = {
    "type": "object",
    "required": ["status", "id"],
    "properties": {"status": {"type": "string", "enum": ["accepted"]}, "id": {"type": "string"}},
}


def _message_schema(settings: Settings) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "An update/delete event, a tweet (v1.1 or v2) or a bare {'text': ...}.",
        "properties": {
            "id": {"type": "string", "maxLength": 256},
            "user_id": {"type": "string"},
            "text": {"type": "string", "maxLength": settings.max_text_chars},
            "timestamp": {
                "description": "ISO-8601 (naive = UTC) or epoch seconds/milliseconds.",
                "oneOf": [{"type": "string"}, {"type": "number"}],
            },
            "type": {"type": "string", "enum": ["update", "delete"]},
        },
        "example": {
            "id": "msg_158",
            "user_id": "u_2301322",
            "text": "Loving the new release #happy",
            "timestamp": "2025-07-06T13:35:15.598473",
            "type": "update",
        },
    }


def _responses(ok_status: str, ok_schema: dict[str, Any]) -> dict[str, Any]:
    rejection = {"content": {"application/json": {"schema": _REJECTION}}}
    return {
        ok_status: {"description": "ok", "content": {"application/json": {"schema": ok_schema}}},
        "400": {"description": "invalid input", **rejection},
        "401": {"description": "missing or wrong bearer token", **rejection},
        "413": {"description": "body or batch too large", **rejection},
        "503": {"description": "broker unavailable; retry later with the same ids", **rejection},
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    """Build the document for the running configuration (limits, auth)."""
    message = _message_schema(settings)
    batch_result = {
        "type": "object",
        "required": ["accepted", "rejected", "results"],
        "properties": {
            "accepted": {"type": "integer"},
            "rejected": {"type": "integer"},
            "results": {"type": "array", "items": {"type": "object"}},
        },
    }
    security: list[dict[str, list[str]]] = (
        [{"bearer": []}] if settings.api_token.get_secret_value() else []
    )
    body = {"required": True, "content": {"application/json": {"schema": message}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Moodstream ingest", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/v1/messages": {
                "post": {
                    "summary": "Accept one message",
                    "security": security,
                    "requestBody": body,
                    "responses": _responses("202", _ACCEPTED),
                }
            },
            "/v1/messages:batch": {
                "post": {
                    "summary": f"Accept up to {settings.max_batch_items} messages",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {
                                            "type": "array",
                                            "items": message,
                                            "maxItems": settings.max_batch_items,
                                        },
                                        {
                                            "type": "object",
                                            "required": ["messages"],
                                            "properties": {
                                                "messages": {"type": "array", "items": message}
                                            },
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": _responses("200", batch_result),
                }
            },
            "/api/submit-message": {
                "post": {
                    "summary": "Legacy intake: {'message': text}; an id is generated",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["message"],
                                    "properties": {"message": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": _responses("202", _ACCEPTED),
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}
            },
        },
    }
