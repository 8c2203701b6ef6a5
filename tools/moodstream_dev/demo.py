"""A small demo stream: a few users, mixed sentiment, hashtags, an update and a delete."""

from __future__ import annotations

import time
from typing import Any

_TEXTS = [
    ("u_alice", "I love the new dashboard, it is fantastic! #launch #happy"),
    ("u_bob", "The app keeps crashing every time I log in. Terrible. #bug"),
    ("u_carol", "Order 1234 shipped on Tuesday. #shipping"),
    ("u_dave", "Great support from @helpdesk today, thank you so much 😍 #support"),
    ("u_erin", "Worst experience ever, still waiting for a refund 😡 #refund"),
    ("u_frank", "The meeting is at 3pm in room B."),
    ("u_alice", "Absolutely brilliant update, everything is faster #launch"),
    ("u_bob", "¡Me encanta este producto! #feliz"),
    ("u_carol", "I am disappointed, the package arrived broken #shipping"),
    ("u_dave", "Thanks @moodstream for the quick fix, works perfectly now #support"),
]


def demo_events(now: float | None = None) -> list[dict[str, Any]]:
    """Demo events stamped over the last few seconds; ends with one update and one delete."""
    start = (now or time.time()) - len(_TEXTS)
    events: list[dict[str, Any]] = [
        {
            "id": f"demo_{index}",
            "user_id": user,
            "text": text,
            "timestamp": start + index,
            "type": "update",
        }
        for index, (user, text) in enumerate(_TEXTS)
    ]
    events.append(
        {
            "id": "demo_5",
            "text": "The meeting moved to 4pm, sorry for the confusion :(",
            "type": "update",
        }
    )
    events.append({"id": "demo_1", "type": "delete"})
    return events
