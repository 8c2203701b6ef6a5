"""The one shape of every HTTP error body: ``{"reason": code, "detail": text}``.

``reason`` is a stable snake_case code a client can branch on (``unauthorized``,
``bad_parameter``, ``malformed_json``, ...); ``detail`` says what was wrong, for people.
Ingest's intake answers add ``"status": "rejected"`` to the same two fields, as a rejected
item of a batch carries them.
"""

from __future__ import annotations


def error_body(reason: str, detail: str) -> dict[str, str]:
    """The JSON body of an error response."""
    return {"reason": reason, "detail": detail}


def rejection_body(reason: str, detail: str) -> dict[str, str]:
    """The JSON body of an intake request or batch item that was not accepted."""
    return {"status": "rejected", **error_body(reason, detail)}
