"""Publish a batch of scored records, re-sending what the broker refused, in order.

Why the analyzer does not let a failed send escape: a batch's offsets are committed
once it is handled (:mod:`moodstream_common.input_batches`), so a batch must end only
when every record it produced is on the broker. aiokafka retries retriable errors by
itself (for ``producer_request_timeout``); what reaches here is an error it gave up
on, such as the embedded broker's UnknownError when two producers race for an empty
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
from typing import Any, Generic, TypeVar

from moodstream_common.backoff import retry_delays

log = logging.getLogger("moodstream.analyzer.delivery")

T = TypeVar("T")


class OrderedPublisher(Generic[T]):
    """Sends records as they are ready, in order, and settles them all at the end.

    The analyzer scores a batch taken from ``raw`` in several model calls; each call's
    records go to :meth:`send` at once, so their broker round trips overlap the next
    call instead of idling the model. :meth:`settle` waits for every delivery and, from
    the first record the broker refused, re-sends it and everything after it, in order
    (across calls too), until all are acknowledged. Only then may the batch's offsets be
    committed. ``send(record)`` starts one send and returns its delivery future (Faust's
    ``topic.send``).
    """

    def __init__(self, send: Callable[[T], Awaitable[Awaitable[Any]]]) -> None:
        self._send = send
        self._records: list[T] = []
        self._deliveries: list[Awaitable[Any]] = []
        self._refused: BaseException | None = None

    async def send(self, records: Sequence[T]) -> None:
        """Start sending ``records`` after the ones already given.

        After a send that raised (refused before it was even queued), later records are
        only kept: :meth:`settle` sends them, in order, after the refused one.
        """
        self._records.extend(records)
        for record in records:
            if self._refused is not None:
                return
            try:
                self._deliveries.append(await self._send(record))
            except Exception as exc:  # noqa: BLE001  refused before it was even queued
                self._refused = exc

    async def settle(self, *, delays: Iterator[float] | None = None) -> int:
        """Wait until every record is acknowledged; returns how many were re-sent.

        Waits with backoff between tries and logs one WARNING per try. Cancellation
        (the worker stopping) propagates.
        """
        delays = delays if delays is not None else retry_delays()
        failure = await _first_failure(self._deliveries)
        start, error = failure if failure is not None else (len(self._deliveries), self._refused)
        pending = self._records
        resent = 0
        while start < len(pending):
            pending = pending[start:]
            delay = next(delays)
            log.warning(
                "broker refused a scored record (%s: %s); re-sending %d records in order in %.1fs",
                type(error).__name__, error, len(pending), delay,
            )
            resent += len(pending)
            await asyncio.sleep(delay)
            start, error = await _send_all(self._send, pending)
        return resent


async def publish_in_order(
    send: Callable[[T], Awaitable[Awaitable[Any]]],
    records: Sequence[T],
    *,
    delays: Iterator[float] | None = None,
) -> int:
    """Send every record with ``send`` until all are acknowledged; return the re-sends.

    The one-call form of :class:`OrderedPublisher`.
    """
    publisher = OrderedPublisher(send)
    await publisher.send(records)
    return await publisher.settle(delays=delays)


async def _first_failure(deliveries: Sequence[Awaitable[Any]]) -> tuple[int, BaseException] | None:
    """The index and error of the first delivery that failed, once all have finished."""
    results = await asyncio.gather(*deliveries, return_exceptions=True)
    for index, result in enumerate(results):
        if isinstance(result, asyncio.CancelledError):
            raise result
        if isinstance(result, BaseException):
            return index, result
    return None


async def _send_all(
    send: Callable[[T], Awaitable[Awaitable[Any]]], records: Sequence[T]
) -> tuple[int, BaseException | None]:
    """Send ``records``; the index and error of the first that failed, or
    ``(len(records), None)`` when all were acknowledged."""
    deliveries = []
    for index, record in enumerate(records):
        try:
            deliveries.append(await send(record))
        except Exception as exc:  # noqa: BLE001  refused before it was even queued
            failed = await _first_failure(deliveries)
            return failed if failed is not None else (index, exc)
    failed = await _first_failure(deliveries)
    return failed if failed is not None else (len(records), None)
