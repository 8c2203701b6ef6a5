"""Retry delays shared by everything that waits for a broker or a queue to come back."""

from __future__ import annotations

from collections.abc import Iterator


def retry_delays(first: float = 0.5, ceiling: float = 5.0) -> Iterator[float]:
    """Endless backoff delays: 0.5, 1, 2, 4, 5, 5, ... seconds (doubling up to ``ceiling``)."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, ceiling)
