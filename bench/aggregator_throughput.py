"""The aggregator alone: scored records/s it applies, changelog records it writes per
record, and how fast its views answer while it runs at full rate.

Two runs side by side on one broker: ``AGGREGATOR_BATCH_SIZE=1`` (every record
applied and written on its own, as before batching) and the default batch size. The
broker's own produce rate is measured in the same run, as the ceiling.

    python -m bench.aggregator_throughput [--count 20000] [--broker kafka]

``--broker kafka`` runs it on a 3-node Apache Kafka cluster (replication factor 3: the
changelog's writes are copied too) and writes ``aggregator_throughput_kafka.json``.

Records are produced straight to ``scored`` (no analyzer): unique ids, 0-2 hashtags
from 20, 200 users, event times 1,000 a second. Changelog records per record are
counted by reading the changelog topic to its end. View latency: ``/v1/totals`` and
``/v1/sentiment/seconds?last=60`` each asked 10 times a second (a few dashboards) from
a second thread while the records are applied.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from bench.common import (
    add_broker_argument,
    broker_produce_rate,
    reader_from_start,
    started_broker,
    table,
    write_result,
)
from moodstream_common import topics
from moodstream_common.records import ScoredMessage
from moodstream_dev.broker import Broker, create_topics
from moodstream_dev.processes import ServiceProcess, free_port, service_env

VIEWS = ("/v1/totals", "/v1/sentiment/seconds?last=60")
POLL_INTERVAL = 0.1  # seconds between rounds of view requests
HASHTAGS = [f"tag{i}" for i in range(20)]


def scored_records(count: int, prefix: str) -> list[ScoredMessage]:
    """``count`` scored updates like a busy stream's (fixed seed)."""
    rng = random.Random(7)
    now = time.time()
    return [
        ScoredMessage(
            id=f"{prefix}{i}",
            type="update",
            event_time=now + i / 1000,
            received_at=now + i / 1000,
            text="t",
            label=rng.choice(["positive", "neutral", "negative"]),
            score=round(rng.uniform(-1, 1), 3),
            hashtags=rng.sample(HASHTAGS, rng.randint(0, 2)),
            user_id=f"u{rng.randrange(200)}",
            model_version="bench",
        )
        for i in range(count)
    ]


async def produce(bootstrap: str, topic: str, records: list[ScoredMessage]) -> None:
    """Send ``records`` to ``topic`` keyed by id, as fast as the producer goes."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, record.dumps(), key=record.id.encode())
            for record in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def count_records(bootstrap: str, topic: str, quiet: float = 3.0) -> int:
    """Records in ``topic``, read from the start until nothing new comes for ``quiet`` s."""
    consumer = await reader_from_start(bootstrap, topic)
    try:
        seen, last_new = 0, time.monotonic()
        while time.monotonic() - last_new < quiet:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            got = sum(len(records) for records in batch.values())
            if got:
                seen, last_new = seen + got, time.monotonic()
        return seen
    finally:
        await consumer.stop()


def poll_views(url: str, stop: threading.Event, latencies: dict[str, list[float]]) -> None:
    """GET each view every ``POLL_INTERVAL`` until ``stop``; record each answer's seconds."""
    with httpx.Client(timeout=30) as client:
        while not stop.wait(POLL_INTERVAL):
            for view in VIEWS:
                started = time.perf_counter()
                client.get(f"{url}{view}").raise_for_status()
                latencies[view].append(time.perf_counter() - started)


def p99(values: list[float]) -> float:
    """99th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] if ordered else float("nan")


def measure(broker: Broker, state: Path, name: str, batch_size: int, count: int) -> dict:
    """One aggregator with ``batch_size``: its rate, changelog writes and view latency."""
    prefix = f"{name}-"
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    port = free_port()
    env = service_env(
        "aggregator",
        broker=broker,
        port=port,
        data_dir=state / prefix,
        topic_prefix=prefix,
        extra={"AGGREGATOR_BATCH_SIZE": str(batch_size)},
    )
    service = ServiceProcess("aggregator", port, env, state / f"{prefix}aggregator.log")
    service.start()
    try:
        service.wait_ready(180)
        records = scored_records(count, prefix)
        latencies: dict[str, list[float]] = {view: [] for view in VIEWS}
        stop = threading.Event()
        poller = threading.Thread(target=poll_views, args=(service.url, stop, latencies))
        started = time.perf_counter()
        poller.start()
        asyncio.run(produce(broker.bootstrap, topics.SCORED.name(prefix), records))
        deadline = time.monotonic() + 900
        while httpx.get(f"{service.url}/v1/totals", timeout=30).json()["total"] < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: aggregator did not apply {count} records")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        stop.set()
        poller.join()
        changelog = f"{prefix}moodstream-aggregator-aggregates-changelog"
        written = asyncio.run(count_records(broker.bootstrap, changelog))
        return {
            "batch_size": batch_size,
            "records_per_s": round(count / elapsed, 1),
            "changelog_records_per_record": round(written / count, 3),
            "view_latency_s": {
                view: {
                    "p50": round(statistics.median(values), 4),
                    "p99": round(p99(values), 4),
                    "requests": len(values),
                }
                for view, values in latencies.items()
            },
        }
    finally:
        service.stop()


def main() -> None:
    """Run both batch sizes, print a table, write
    bench/results/aggregator_throughput[_kafka].json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1_000)
    add_broker_argument(parser)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-aggregator-"))
    result: dict[str, object] = {"count": args.count}
    with started_broker(args.broker, state) as broker:
        create_topics(broker.bootstrap, [topics.RAW], prefix="ceiling-")
        ceiling = asyncio.run(broker_produce_rate(broker.bootstrap, "ceiling-raw", 20_000))
        result["broker_produce_msgs_per_s"] = round(ceiling)
        one = measure(broker, state, "one", 1, min(args.count, 5_000))
        print(f"one record at a time: {one}", flush=True)
        batched = measure(broker, state, "batched", args.batch_size, args.count)
        print(f"batched: {batched}", flush=True)
    result["one_at_a_time"] = one
    result["batched"] = batched
    result["batched_over_one_at_a_time"] = round(
        batched["records_per_s"] / one["records_per_s"], 2
    )
    result["batched_over_broker"] = round(batched["records_per_s"] / ceiling, 4)
    result["targets"] = {
        "records_per_s": 5_000,
        "batched_over_one_at_a_time": 6.5,
        "view_p99_s": 0.1,
    }
    rows = [
        ("broker produce", result["broker_produce_msgs_per_s"], "", ""),
        *(
            (
                f"aggregator, batch {run['batch_size']}",
                run["records_per_s"],
                run["changelog_records_per_record"],
                " / ".join(f"{v['p99'] * 1000:.0f} ms" for v in run["view_latency_s"].values()),
            )
            for run in (one, batched)
        ),
    ]
    print(table(rows, ("path", "records/s", "changelog/record", "views p99")))
    print(
        f"batched ÷ one at a time: {result['batched_over_one_at_a_time']} (target 6.5); "
        f"batched ÷ broker produce: {result['batched_over_broker']}"
    )
    write_result("aggregator_throughput", result, broker=args.broker)


if __name__ == "__main__":
    main()
