"""The topic door retries a batch the broker did not take instead of dropping it."""

from __future__ import annotations

import itertools
import logging

import pytest

from moodstream_ingest.agents import accept_until_taken
from moodstream_ingest.intake import BrokerUnavailable, Item, Outcome


async def test_a_batch_is_retried_until_the_broker_takes_it(caplog):
    items = [Item(original=b'{"id": "a", "text": "hi"}', value={"id": "a", "text": "hi"},
                  decoded=True)]
    tries: list[int] = []

    async def flaky_accept(batch):
        tries.append(len(batch))
        if len(tries) < 3:
            raise BrokerUnavailable(f"broker did not take {len(batch)} records")
        return [Outcome(True, message_id="a")]

    with caplog.at_level(logging.WARNING, logger="moodstream.ingest.topic"):
        outcomes = await accept_until_taken(items, accept_batch=flaky_accept,
                                            delays=itertools.repeat(0.0))
    assert outcomes == [Outcome(True, message_id="a")]
    assert tries == [1, 1, 1], "the whole batch, every time"
    assert caplog.text.count("holding the batch of 1; retrying in") == 2


async def test_other_errors_are_not_swallowed():
    async def broken_accept(batch):
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        await accept_until_taken([], accept_batch=broken_accept, delays=itertools.repeat(0.0))
