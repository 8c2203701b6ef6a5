"""Every id ingest accepts can be looked up: braces, slashes, quotes, spaces, percent
signs, dots and non-ASCII text, in the single-message and the per-user views and the
live feed.

aiohttp's default route pattern stops at ``/`` and refuses ``{`` and ``}``, so such ids
were counted in the totals but answered with a plain-text 404.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

HOSTILE_IDS = [
    "{braced}",
    "}{",
    "{{template}}",
    "a/b",
    "/leading-slash",
    "trailing/",
    "../../etc/passwd",
    "..",
    ".",
    "it's",
    'say "hi"',
    "back\\slash",
    "with space",
    " padded ",
    "100%",
    "%2F",
    "a?b=c",
    "frag#ment",
    "a&b;c",
    "<script>alert(1)</script>",
    "'; DROP TABLE messages; --",
    "naïve café",
    "日本語のID",
    "مرحبا",
    "emoji 🎉👍🏽",
    "zero\u200bwidth",
    "x" * 256,
]


def _user_of(message_id: str) -> str:
    """A user id as hostile as the message id, within the same 256-character limit."""
    return f"user {message_id}"[:256]


def _path(kind: str, value: str) -> str:
    """The view's URL for ``value``, every reserved character percent-encoded.

    Dots are encoded too: HTTP clients (httpx, browsers) resolve a bare ``.`` or ``..``
    path segment away before sending (RFC 3986 5.2.4), ``%2E`` they leave alone.
    """
    return f"/v1/{kind}/{quote(value, safe='').replace('.', '%2E')}"


def test_every_accepted_id_can_be_looked_up(stack):
    ingest, aggregator = stack["ingest"].url, stack["aggregator"].url
    batch = [
        {"id": message_id, "user_id": _user_of(message_id), "text": f"love it #{index}"}
        for index, message_id in enumerate(HOSTILE_IDS)
    ]
    response = httpx.post(f"{ingest}/v1/messages:batch", json=batch, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(HOSTILE_IDS), response.json()

    with httpx.Client(base_url=aggregator, timeout=10) as client:

        def found(message_id: str) -> dict | None:
            answer = client.get(_path("messages", message_id))
            return answer.json() if answer.status_code == 200 else None

        missing = list(HOSTILE_IDS)

        def all_found() -> bool:
            missing[:] = [m for m in missing if found(m) is None]
            return not missing

        try:
            eventually(all_found, timeout=120)
        except AssertionError as error:
            raise AssertionError(f"never found: {missing!r}") from error
        for message_id in HOSTILE_IDS:
            state = found(message_id)
            assert state is not None, message_id
            assert state["id"] == message_id and state["deleted"] is False
            user = client.get(_path("users", _user_of(message_id)))
            assert user.status_code == 200, (message_id, user.text)
            assert user.json()["user_id"] == _user_of(message_id)
            assert user.json()["total"] == 1
            # The feed finds it by its (as hostile) user id, id and text intact.
            feed = client.get("/v1/messages", params={"user_id": _user_of(message_id)})
            assert feed.status_code == 200, (message_id, feed.text)
            assert [m["id"] for m in feed.json()["messages"]] == [message_id]

        # A delete of a hostile id reaches the same message.
        deleted = httpx.post(
            f"{ingest}/v1/messages", json={"id": "{braced}", "type": "delete"}, timeout=30
        )
        assert deleted.status_code == 202, deleted.text
        eventually(lambda: (found("{braced}") or {}).get("deleted") is True, timeout=120)

        # An id never seen is a JSON 404 with the one error body, not aiohttp's text page.
        missing = client.get(_path("messages", "{never/sent}"))
        assert missing.status_code == 404
        assert missing.json() == {"reason": "not_found", "detail": "{never/sent}"}
