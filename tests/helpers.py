"""Small helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer

from moodstream_analyzer.text import extract_hashtags
from moodstream_dev.loadgen import LoadConfig, generate
from moodstream_dev.loadgen import run as run_loadgen
from moodstream_dev.processes import ServiceProcess

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.2) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


# Tansu's reported ends can lag what it acknowledged for up to its 5 s metadata cache
# (broker_compat, "Offsets Tansu reports"), so one reading of "no lag" proves nothing.
CAUGHT_UP_CONFIRM_SECONDS = 6.0


def group_caught_up(bootstrap: str, group: str, topic: str, *, timeout: float) -> None:
    """Wait until ``group`` has committed the end offset of every partition of ``topic``,
    seen twice :data:`CAUGHT_UP_CONFIRM_SECONDS` apart with nothing moved in between."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    from moodstream_common import broker_compat
    from moodstream_dev.replay import partitions_of

    broker_compat.apply("tansu")  # true end offsets on the embedded broker

    async def _positions() -> tuple[int, tuple[int, ...]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            committed = [(await consumer.committed(tp)) or 0 for tp in tps]
            lag = sum(ends[tp] - offset for tp, offset in zip(tps, committed, strict=True))
            return lag, tuple(committed)
        finally:
            await consumer.stop()

    def _confirmed() -> bool:
        lag, committed = asyncio.run(_positions())
        if lag != 0:
            return False
        time.sleep(CAUGHT_UP_CONFIRM_SECONDS)
        return asyncio.run(_positions()) == (0, committed)

    eventually(lambda: _confirmed() or None, timeout=timeout, interval=0.5)


def read_topic(bootstrap: str, topic: str, *, quiet: float = 1.5, timeout: float = 30.0) -> list:
    """Every record of ``topic`` as ``(key, decoded JSON value)``, read until ``quiet``
    seconds pass without a new one (end offsets are not trusted on the embedded broker)."""

    async def _read() -> list:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False, fetch_max_wait_ms=100,
        )
        await consumer.start()
        records: list = []
        try:
            deadline = time.monotonic() + timeout
            last_new = time.monotonic() + 2.0  # the first fetch takes a moment
            while time.monotonic() - last_new < quiet and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=300)
                for partition_records in batch.values():
                    for record in partition_records:
                        records.append((record.key, json.loads(record.value)))
                        last_new = time.monotonic()
        finally:
            await consumer.stop()
        return records

    return asyncio.run(_read())


async def kill_and_restart(service: ServiceProcess, *, ready_timeout: float) -> None:
    """SIGKILL ``service``, start it again and wait until it is ready, all off the event
    loop, so that the test's producers and readers keep running meanwhile."""
    loop = asyncio.get_running_loop()
    service.signal(signal.SIGKILL)
    await loop.run_in_executor(None, service.process.wait)
    service.start()
    await loop.run_in_executor(None, service.wait_ready, ready_timeout)


@functools.cache
def model_splits() -> Any:
    """The training data split as ``make model`` splits it, read once per test run (it
    parses every corpus: about 35 s)."""
    from moodstream_model import training
    from moodstream_model.data import training_splits

    settings = training.TrainingSettings()
    return training_splits(seed=settings.seed, max_train_per_corpus=settings.max_train_per_corpus)


# -- exactness: what the aggregator's views must say after a load ------------------------


def load_in_background(config: LoadConfig) -> tuple[threading.Thread, dict]:
    """Start sending ``config``'s load on a thread; the dict gets the run's summary
    (``LoadSummary.as_json``) when it ends. Join the thread before reading it."""
    summary: dict = {}
    sender = threading.Thread(target=lambda: summary.update(
        asyncio.run(run_loadgen(config, progress=False)).as_json()))
    sender.start()
    return sender, summary


def final_events(config: LoadConfig) -> dict[str, dict]:
    """Each id's last event of a load: what its state must be once everything is applied."""
    final: dict[str, dict] = {}
    for event in generate(config):
        final[event["id"]] = event
    return final


def hashtag_counts(url: str) -> Counter:
    """Every hashtag's live count in the aggregator at ``url`` (``/v1/hashtags``)."""
    rows = httpx.get(f"{url}/v1/hashtags", timeout=30).json()["hashtags"]
    return Counter({row["hashtag"]: row["total"] for row in rows})


def expected_hashtags(final: dict[str, dict]) -> Counter:
    """The hashtag counts the live messages of ``final`` must add."""
    counts: Counter = Counter()
    for event in final.values():
        if event["type"] == "update":
            counts.update(set(extract_hashtags(event["text"])))
    return counts


def assert_views_exact(
    url: str, final: dict[str, dict], base_total: int, base_tags: Counter
) -> None:
    """The aggregator at ``url`` counts exactly what the load of ``final`` adds to the
    ``base_*`` figures read before it: live messages in ``/v1/totals``, each hashtag's
    count in ``/v1/hashtags`` and every message's state in ``/v1/messages/{id}`` (0 lost,
    0 counted twice)."""
    live = [event for event in final.values() if event["type"] == "update"]
    totals = httpx.get(f"{url}/v1/totals", timeout=30).json()
    assert totals["total"] - base_total == len(live), totals
    tags = hashtag_counts(url)
    tags.subtract(base_tags)
    assert +tags == +expected_hashtags(final)
    wrong = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for message_id, event in final.items():
            response = client.get(f"/v1/messages/{message_id}")
            state = response.json() if response.status_code == 200 else {}
            deleted = event["type"] == "delete"
            expected_tags = sorted(set(extract_hashtags(event.get("text", ""))))
            if response.status_code != 200 or bool(state.get("deleted")) != deleted or (
                not deleted and (state.get("user_id") != event["user_id"]
                                 or sorted(state.get("hashtags", [])) != expected_tags)
            ):
                wrong.append((message_id, response.status_code, state))
    assert not wrong, f"{len(wrong)} of {len(final)} messages wrong, e.g. {wrong[:3]}"
