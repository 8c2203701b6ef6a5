"""Publish a batch of scored records, re-sending what the broker refused, in order.

Why the analyzer cannot let a failed send escape: Faust's ``take_events`` acknowledges
a batch's events in a ``finally`` block, so an exception raised while the batch is
being published still marks its offsets committable, and the records that never
reached ``scored`` are lost for good. aiokafka retries retriable errors by itself (for
Faust's ``producer_request_timeout``); what reaches here is an error it gave up on,
such as the embedded broker's UnknownError when two producers race for an empty
partition. Those pass, so the batch waits and tries again.

A re-send starts at the first record that failed and repeats everything after it, in
order: re-sending only the failed ones could put an ``update`` after a later ``delete``
of the same message. The records that land twice are duplicates the aggregator
absorbs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from moodstream_common.backoff import retry_delays

log = logging.getLogger("moodstream.analyzer.delivery")

T = TypeVar("T")


async def publish_in_order(
    send: Callable[[T], Awaitable[Awaitable[Any]]],
    records: Sequence[T],
    *,
    delays: Iterator[float] | None = None,
) -> int:
    """Send every record with ``send`` until all are acknowledged; return the re-sends.

    ``send(record)`` starts one send and returns its delivery future (Faust's
    ``topic.send``). Waits with backoff between tries and logs one WARNING per try.
    Cancellation (the worker stopping) propagates.
    """
    pending = list(records)
    delays = delays if delays is not None else retry_delays()
    resent = 0
    while pending:
        failed_at, error = await _send_all(send, pending)
        if failed_at is None:
            return resent
        pending = pending[failed_at:]
        delay = next(delays)
        log.warning(
            "broker refused a scored record (%s: %s); re-sending %d records in order in %.1fs",
            type(error).__name__, error, len(pending), delay,
        )
        resent += len(pending)
        await asyncio.sleep(delay)
    return resent


async def _send_all(
    send: Callable[[T], Awaitable[Awaitable[Any]]], records: Sequence[T]
) -> tuple[int | None, BaseException | None]:
    """Send ``records``; the index and error of the first that failed, or (None, None)."""
    deliveries = []
    failed_at: int | None = None
    error: BaseException | None = None
    for index, record in enumerate(records):
        try:
            deliveries.append(await send(record))
        except Exception as exc:  # noqa: BLE001  refused before it was even queued
            failed_at, error = index, exc
            break
    results = await asyncio.gather(*deliveries, return_exceptions=True)
    for index, result in enumerate(results):
        if isinstance(result, asyncio.CancelledError):
            raise result
        if isinstance(result, BaseException):
            return index, result
    return failed_at, error
