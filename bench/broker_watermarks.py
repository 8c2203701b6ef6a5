"""What the embedded broker reports as a partition's end, against what it acknowledged.

    python -m bench.broker_watermarks [--seconds 10] [--producers 4]

The capture behind ``broker_compat``'s "Offsets Tansu reports": producers write batches
of 1-300 records to two partitions while a reader asks, every 10 ms, for each
partition's end twice over (the high watermark of a Fetch, and ListOffsets LATEST) and
compares both with the highest offset already acknowledged to a producer *before* the
question was sent. An answer below that is a lagging end: the reading that workaround
(h) once took for data loss. Writes ``bench/results/broker_watermarks.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaProducer, TopicPartition
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.offset import OffsetRequest

from bench.common import write_result
from moodstream_common.topics import TopicSpec
from moodstream_dev.broker import EmbeddedBroker, create_topics_async

TOPIC = "watermarks"
PARTITIONS = 2
BATCH_SIZES = (1, 5, 50, 200, 300)


async def _fetch_highwater(client: AIOKafkaClient, node: int, partition: int) -> int:
    request = FetchRequest(100, 0, 1, 0, [(TOPIC, [(partition, 0, 1)])])
    response = await client.send(node, request)
    return int(response.topics[0][1][0][2])


async def _listed_latest(client: AIOKafkaClient, node: int, partition: int) -> int:
    request = OffsetRequest(-1, 0, [(TOPIC, [(partition, -1)])])
    response = await client.send(node, request)
    answer = response.topics[0][1][0]  # v1+: (partition, error, timestamp, offset, ...)
    return int(answer[3] if len(answer) >= 4 else answer[2][0])


async def capture(bootstrap: str, seconds: float, producers: int, seed: int) -> dict[str, Any]:
    """Run the capture against ``bootstrap``; returns the counts."""
    rng = random.Random(seed)
    await create_topics_async(bootstrap, [TopicSpec(TOPIC, PARTITIONS, "watermark capture")])
    clients = [
        AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=rng.choice((0, 5, 20)))
        for _ in range(producers)
    ]
    for producer in clients:
        await producer.start()
    reader = AIOKafkaClient(bootstrap_servers=bootstrap)
    await reader.bootstrap()
    node = reader.cluster.leader_for_partition(TopicPartition(TOPIC, 0))
    acked = dict.fromkeys(range(PARTITIONS), -1)
    stop = asyncio.Event()

    async def produce(producer: AIOKafkaProducer) -> None:
        while not stop.is_set():
            futures = [
                await producer.send(TOPIC, b"x" * 200, partition=rng.randrange(PARTITIONS))
                for _ in range(rng.choice(BATCH_SIZES))
            ]
            for meta in await asyncio.gather(*futures):
                acked[meta.partition] = max(acked[meta.partition], meta.offset)

    tasks = [asyncio.create_task(produce(producer)) for producer in clients]
    counts = {"fetch_high_watermark": [0, 0, 0], "list_offsets_latest": [0, 0, 0]}
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            for partition in range(PARTITIONS):
                floor = acked[partition] + 1  # acknowledged before we ask
                for name, ask in (("fetch_high_watermark", _fetch_highwater),
                                  ("list_offsets_latest", _listed_latest)):
                    end = await ask(reader, node, partition)
                    entry = counts[name]
                    entry[0] += 1
                    if end < floor:
                        entry[1] += 1
                        entry[2] = max(entry[2], floor - end)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for producer in clients:
            await producer.stop()
        await reader.close()
    return {
        name: {"answers": answers, "below_acknowledged": below, "worst_lag_records": worst}
        for name, (answers, below, worst) in counts.items()
    } | {"records_acknowledged": sum(offset + 1 for offset in acked.values())}


def main() -> int:
    """Start an embedded broker, capture, write the JSON and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        result = asyncio.run(capture(broker.bootstrap, args.seconds, args.producers, args.seed))
    write_result("broker_watermarks", {"seconds": args.seconds, "producers": args.producers,
                                       **result})
    for name in ("fetch_high_watermark", "list_offsets_latest"):
        entry = result[name]
        print(f"{name}: {entry['below_acknowledged']} of {entry['answers']} answers below an "
              f"acknowledged offset (worst by {entry['worst_lag_records']} records)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
