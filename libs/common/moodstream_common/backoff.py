"""Retry delays and the retry loop shared by everything that waits for a broker or a
queue to come back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def retry_delays(first: float = 0.5, ceiling: float = 5.0) -> Iterator[float]:
    """Endless backoff delays: 0.5, 1, 2, 4, 5, 5, ... seconds (doubling up to ``ceiling``)."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, ceiling)


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: tuple[type[BaseException], ...],
    log: logging.Logger,
    failed: Callable[[BaseException], str],
    delays: Iterator[float] | None = None,
) -> T:
    """``await attempt()`` until it returns, waiting with backoff after each failure.

    An exception of a ``retry_on`` type is logged as one WARNING, ``failed(exc)`` followed
    by "; retrying in Ns", and the attempt is made again after the next delay (default
    :func:`retry_delays`, which never end). Any other exception, and cancellation,
    propagate at once.
    """
    for delay in delays if delays is not None else retry_delays():
        try:
            return await attempt()
        except retry_on as exc:
            log.warning("%s; retrying in %.1fs", failed(exc), delay)
            await asyncio.sleep(delay)
    raise RuntimeError("gave up: the retry delays ran out")
