"""The analyzer re-sends what the broker refused, in order, and never gives up a batch."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from moodstream_analyzer.delivery import OrderedPublisher, publish_in_order


class Broker:
    """A stand-in for ``topic.send``: records what landed; refuses chosen attempts."""

    def __init__(self, refuse: set[int] = frozenset(), raise_on_send: set[int] = frozenset()):
        self.landed: list[str] = []
        self.attempts = 0
        self.refuse = refuse
        self.raise_on_send = raise_on_send

    async def send(self, record: str) -> asyncio.Future[None]:
        attempt = self.attempts
        self.attempts += 1
        if attempt in self.raise_on_send:
            raise RuntimeError("producer buffer closed")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if attempt in self.refuse:
            future.set_exception(RuntimeError("UnknownError"))
        else:
            self.landed.append(record)
            future.set_result(None)
        return future


def _no_wait():
    return itertools.repeat(0.0)


async def test_a_clean_batch_is_sent_once():
    broker = Broker()
    assert await publish_in_order(broker.send, ["a", "b", "c"], delays=_no_wait()) == 0
    assert broker.landed == ["a", "b", "c"]


async def test_a_refused_record_is_resent_with_everything_after_it(caplog):
    # "u1" (an update) is refused, the later "d1" (its delete) lands: re-sending only
    # "u1" would leave the update last. From the first failure on, all go again.
    broker = Broker(refuse={1})
    with caplog.at_level(logging.WARNING, logger="moodstream.analyzer.delivery"):
        resent = await publish_in_order(broker.send, ["a", "u1", "d1"], delays=_no_wait())
    assert resent == 2
    assert broker.landed == ["a", "d1", "u1", "d1"]
    assert broker.landed[-1] == "d1", "the last word on the message is still its delete"
    assert "re-sending 2 records in order" in caplog.text


async def test_it_keeps_trying_until_the_broker_takes_the_batch():
    broker = Broker(refuse={0, 2, 4}, raise_on_send={6})
    assert await publish_in_order(broker.send, ["a", "b"], delays=_no_wait()) == 8
    assert broker.landed[-2:] == ["a", "b"]


async def test_cancellation_propagates():
    async def never(record: str) -> asyncio.Future[None]:
        return asyncio.get_running_loop().create_future()

    task = asyncio.ensure_future(publish_in_order(never, ["a"], delays=_no_wait()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_records_sent_over_several_calls_land_in_order():
    broker = Broker()
    publisher = OrderedPublisher(broker.send)
    await publisher.send(["a", "b"])
    await publisher.send(["c"])
    assert broker.landed == ["a", "b", "c"], "each call's records go out at once"
    assert await publisher.settle(delays=_no_wait()) == 0
    assert broker.landed == ["a", "b", "c"]


async def test_a_refusal_in_an_earlier_call_resends_the_later_calls_too():
    # "u1" (first call) is refused after "d1" (its delete, second call) was sent: the
    # re-send must repeat "d1" after "u1", so the delete stays the last word.
    broker = Broker(refuse={1})
    publisher = OrderedPublisher(broker.send)
    await publisher.send(["a", "u1"])
    await publisher.send(["d1", "b"])
    assert await publisher.settle(delays=_no_wait()) == 3
    assert broker.landed == ["a", "d1", "b", "u1", "d1", "b"]


async def test_after_a_send_raises_later_calls_wait_for_settle_and_keep_their_order():
    broker = Broker(raise_on_send={1})
    publisher = OrderedPublisher(broker.send)
    await publisher.send(["a", "u1"])
    await publisher.send(["d1"])
    assert broker.landed == ["a"], "nothing after the refused record is sent before it"
    assert await publisher.settle(delays=_no_wait()) == 2
    assert broker.landed == ["a", "u1", "d1"]
