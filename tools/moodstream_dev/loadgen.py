"""Load generator: N update/delete events at a target rate, over HTTP or to the input topic.

``moodstream loadgen --count 20000 --rate 500 --via http``. Updates create new messages
(and sometimes replace one); deletes remove earlier ids. Shows a progress bar and ends
with a summary (sent/s, errors, live messages expected in the aggregates).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from moodstream_dev.textmix import make_text


@dataclass
class LoadConfig:
    """What to send; every field can come from flags or a YAML file."""

    count: int = 20_000
    rate: float = 0.0  # events/s; 0 = as fast as possible
    update_ratio: float = 0.75
    replace_ratio: float = 0.1  # share of updates that replace an existing message
    # Deletes and replacements pick among the N newest live ids (0: any live id), so a
    # run can stay inside the aggregator's message retention.
    recent: int = 0
    via: str = "http"  # "http" | "topic"
    ingest_url: str = "http://127.0.0.1:8000"
    bootstrap: str = "127.0.0.1:9092"
    topic: str = "events"
    batch_size: int = 200
    users: int = 500
    seed: int = 7
    id_prefix: str = "lg"
    token: str = ""


@dataclass
class LoadSummary:
    """What a run did."""

    sent: int = 0
    errors: int = 0
    retried: int = 0  # events sent again after a 503 (ingest could not reach the broker)
    rejected: int = 0
    seconds: float = 0.0
    updates: int = 0
    deletes: int = 0
    live_messages: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Events sent per second."""
        return self.sent / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        """Summary as a JSON-ready dict."""
        return {**asdict(self), "per_second": round(self.per_second, 1)}


def generate(config: LoadConfig) -> Iterator[dict[str, Any]]:
    """The events of a run, deterministic for ``config.seed``."""
    rng = random.Random(config.seed)
    live: list[str] = []
    next_id = 0
    for _ in range(config.count):
        pool = min(len(live), config.recent) if config.recent else len(live)
        if live and rng.random() >= config.update_ratio:
            victim = live.pop(len(live) - pool + rng.randrange(pool))
            yield {"id": victim, "type": "delete", "timestamp": time.time()}
            continue
        if live and rng.random() < config.replace_ratio:
            message_id = rng.choice(live[len(live) - pool :])
        else:
            message_id = f"{config.id_prefix}_{next_id}"
            next_id += 1
            live.append(message_id)
        text, _ = make_text(rng)
        yield {
            "id": message_id,
            "user_id": f"u_{rng.randrange(config.users)}",
            "text": text,
            "timestamp": time.time(),
            "type": "update",
        }


def expected_live(config: LoadConfig) -> int:
    """How many messages exist after the run (what the aggregates must count)."""
    live: set[str] = set()
    for event in generate(config):
        if event["type"] == "delete":
            live.discard(event["id"])
        else:
            live.add(event["id"])
    return len(live)


async def _paced(config: LoadConfig) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of events, spaced so the overall rate stays at ``config.rate``."""
    started = time.monotonic()
    batch: list[dict[str, Any]] = []
    sent = 0
    # When paced, send ~20 batches a second so the rate is smooth, not bursty.
    paced_size = max(1, min(config.batch_size, int(config.rate / 20)))
    size = config.batch_size if config.rate <= 0 else paced_size
    for event in generate(config):
        batch.append(event)
        if len(batch) >= size:
            yield batch
            sent += len(batch)
            batch = []
            if config.rate > 0:
                ahead = sent / config.rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
    if batch:
        yield batch


RETRY_FOR_SECONDS = 60.0
"""How long a batch answered 503 is sent again (as ``Retry-After`` says) before it counts
as an error."""


async def _post_batch(
    client: httpx.AsyncClient, batch: list[dict[str, Any]], summary: LoadSummary
) -> httpx.Response:
    """POST ``batch``; a 503 (ingest could not reach the broker in time, e.g. during a
    leader election) is sent again after its ``Retry-After``, the same events with the
    same ids, as the intake API asks of its clients. Sending inline keeps the events in
    order: a later batch never overtakes a retried one."""
    waited = 0.0
    while True:
        response = await client.post("/v1/messages:batch", json=batch)
        if response.status_code != 503 or waited >= RETRY_FOR_SECONDS:
            return response
        delay = min(float(response.headers.get("retry-after", "1")), 10.0)
        summary.retried += len(batch)
        await asyncio.sleep(delay)
        waited += delay


async def _send_http(config: LoadConfig, summary: LoadSummary, bar: tqdm) -> None:
    headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    async with httpx.AsyncClient(base_url=config.ingest_url, timeout=60, headers=headers) as client:
        async for batch in _paced(config):
            try:
                response = await _post_batch(client, batch, summary)
                response.raise_for_status()
                summary.sent += len(batch)
                summary.rejected += response.json()["rejected"]
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                summary.errors += len(batch)
                if len(summary.error_samples) < 5:
                    summary.error_samples.append(repr(exc))
            _count(summary, batch)
            bar.update(len(batch))


async def _send_topic(config: LoadConfig, summary: LoadSummary, bar: tqdm) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        async for batch in _paced(config):
            futures = [
                await producer.send(
                    config.topic, json.dumps(event).encode(), key=event["id"].encode()
                )
                for event in batch
            ]
            for outcome in await asyncio.gather(*futures, return_exceptions=True):
                if isinstance(outcome, Exception):
                    summary.errors += 1
                    if len(summary.error_samples) < 5:
                        summary.error_samples.append(repr(outcome))
                else:
                    summary.sent += 1
            _count(summary, batch)
            bar.update(len(batch))
    finally:
        await producer.stop()


def _count(summary: LoadSummary, batch: list[dict[str, Any]]) -> None:
    deletes = sum(1 for event in batch if event["type"] == "delete")
    summary.deletes += deletes
    summary.updates += len(batch) - deletes


async def run(config: LoadConfig, *, progress: bool = True) -> LoadSummary:
    """Send the whole run; returns its summary."""
    summary = LoadSummary()
    started = time.monotonic()
    bar = tqdm(total=config.count, unit="msg", disable=not progress, desc=f"loadgen {config.via}")
    with bar:
        if config.via == "http":
            await _send_http(config, summary, bar)
        elif config.via == "topic":
            await _send_topic(config, summary, bar)
        else:
            raise ValueError(f"via must be 'http' or 'topic', not {config.via!r}")
    summary.seconds = time.monotonic() - started
    summary.live_messages = expected_live(config)
    return summary


def load_config(path: Path | None, overrides: dict[str, Any]) -> LoadConfig:
    """A config from an optional YAML file, then non-``None`` flag overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        import yaml

        values.update(yaml.safe_load(path.read_text()) or {})
    values.update({key: value for key, value in overrides.items() if value is not None})
    unknown = set(values) - set(LoadConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown loadgen settings: {sorted(unknown)}")
    return LoadConfig(**values)
