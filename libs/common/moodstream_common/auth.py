"""Bearer-token check shared by every service's HTTP API."""

from __future__ import annotations

import hmac

from pydantic import SecretStr


def authorized(header: str | None, token: SecretStr) -> bool:
    """True when no token is configured, or ``header`` is ``Bearer <token>``.

    Uses a constant-time comparison so response timing leaks nothing about the token.
    """
    expected = token.get_secret_value()
    if not expected:
        return True
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].encode(), expected.encode())
