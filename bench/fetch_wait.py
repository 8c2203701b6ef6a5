"""How late a record reaches a consumer whose Fetch is already waiting, by the Fetch's
``fetch_max_wait_ms``, on the embedded broker.

    python -m bench.fetch_wait [--records 15]

The capture behind ``broker_compat`` (i): Kafka answers a waiting Fetch as soon as
``fetch_min_bytes`` have arrived, so there the wait bounds only an idle poll; Tansu
answers it late, by a share of the wait. One record at a time is produced to an idle
partition while a consumer waits, and the time from the produce call to the record's
arrival is taken; Faust's consumer waits 1,500 ms (its driver's constant), aiokafka's
500 by default, ``broker_compat.FETCH_MAX_WAIT_MS`` is what Moodstream uses on Tansu.
Writes ``bench/results/fetch_wait.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import table, write_result
from moodstream_common.broker_compat import FETCH_MAX_WAIT_MS
from moodstream_common.topics import TopicSpec
from moodstream_dev.broker import EmbeddedBroker, create_topics

WAITS_MS = (1_500, 500, 250, FETCH_MAX_WAIT_MS)
PARTITIONS = 4


async def arrival_delays(bootstrap: str, topic: str, wait_ms: int, records: int) -> list[float]:
    """Seconds from producing each record until a waiting consumer has it."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="latest",
        fetch_max_wait_ms=wait_ms,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    delays = []
    try:
        # Until the consumer has its positions, a record could be skipped as "before latest".
        while len(consumer.assignment()) < PARTITIONS:
            await asyncio.sleep(0.05)
        await consumer.getmany(timeout_ms=wait_ms)
        for index in range(records):
            started = time.perf_counter()
            await producer.send_and_wait(topic, b"x", partition=index % PARTITIONS)
            while not await consumer.getmany(timeout_ms=5_000):
                pass
            delays.append(time.perf_counter() - started)
            # Off the wait's rhythm, so each record lands at another point of a Fetch.
            await asyncio.sleep(0.137)
    finally:
        await producer.stop()
        await consumer.stop()
    return delays


def main() -> None:
    """Run the benchmark and write bench/results/fetch_wait.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=15)
    args = parser.parse_args()
    results = {}
    with EmbeddedBroker(log_path=Path(tempfile.mkdtemp(prefix="bench-fetch-")) / "b.log") as b:
        for wait_ms in WAITS_MS:
            spec = TopicSpec(f"fetch-wait-{wait_ms}", PARTITIONS, "bench only")
            create_topics(b.bootstrap, [spec])
            delays = asyncio.run(arrival_delays(b.bootstrap, spec.name(""), wait_ms, args.records))
            results[str(wait_ms)] = {
                "median_s": round(statistics.median(delays), 4),
                "max_s": round(max(delays), 4),
                "delays_s": [round(d, 4) for d in delays],
            }
    print(table(
        [(wait, r["median_s"], r["max_s"]) for wait, r in results.items()],
        ("fetch_max_wait_ms", "median s", "max s"),
    ))
    write_result("fetch_wait", {"records": args.records, "moodstream_wait_ms": FETCH_MAX_WAIT_MS,
                                "by_fetch_max_wait_ms": results})


if __name__ == "__main__":
    main()
