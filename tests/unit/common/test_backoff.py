"""The shared retry loop: retries what it is told to, and only that."""

import asyncio
import logging

import pytest

from moodstream_common.backoff import retry_delays, retrying


def test_delays_double_up_to_the_ceiling():
    delays = retry_delays(0.5, 5.0)
    assert [next(delays) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_retries_a_listed_error_with_one_warning_each_then_returns(caplog):
    calls = []

    async def attempt():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("away")
        return "done"

    with caplog.at_level(logging.WARNING):
        result = asyncio.run(
            retrying(
                attempt, retry_on=(ConnectionError,), log=logging.getLogger("t"),
                failed=lambda exc: f"broker {exc}", delays=iter([0.0, 0.0, 0.0]),
            )
        )
    assert result == "done" and len(calls) == 3
    assert caplog.text.count("broker away; retrying in 0.0s") == 2


def test_an_unlisted_error_propagates_at_once():
    calls = []

    async def attempt():
        calls.append(1)
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(
            retrying(attempt, retry_on=(ConnectionError,), log=logging.getLogger("t"),
                     failed=str, delays=iter([0.0]))
        )
    assert len(calls) == 1


def test_running_out_of_delays_is_an_error_not_a_silent_none():
    async def attempt():
        raise ConnectionError("away")

    with pytest.raises(RuntimeError, match="ran out"):
        asyncio.run(
            retrying(attempt, retry_on=(ConnectionError,), log=logging.getLogger("t"),
                     failed=str, delays=iter([0.0]))
        )
