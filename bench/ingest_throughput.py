"""Ingest intake rate over HTTP batches and from the input topic, against the broker's
own produce rate measured in the same run (the ceiling).

    python -m bench.ingest_throughput [--count 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.common import broker_produce_rate, median, reader_from_start, table, write_result
from moodstream_common import topics
from moodstream_dev.broker import EmbeddedBroker, create_topics
from moodstream_dev.loadgen import LoadConfig, generate
from moodstream_dev.loadgen import run as run_loadgen
from moodstream_dev.processes import ServiceProcess, free_port, service_env


async def topic_intake_rate(
    bootstrap: str, prefix: str, count: int, seed: int, timeout: float = 300
) -> float:
    """Events/s from producing ``count`` events to ``events`` until all are in ``raw``.

    The reader on ``raw`` is attached before the first event is sent, and counts only
    this run's message ids (``raw`` already holds the HTTP run's records): a reader
    joining a group after the fact would time its own start-up, not ingest.
    """
    id_prefix = f"t{seed}_"
    reader = await reader_from_start(bootstrap, topics.RAW.name(prefix))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    events = list(generate(LoadConfig(count=count, seed=seed, id_prefix=id_prefix[:-1])))
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(
                topics.EVENTS.name(prefix), json.dumps(e).encode(), key=e["id"].encode()
            )
            for e in events
        ]
        await asyncio.gather(*futures)
        seen = 0
        while seen < count:
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"only {seen} of {count} events reached raw in {timeout} s")
            batch = await reader.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(
                1
                for records in batch.values()
                for record in records
                if record.key is not None and record.key.decode().startswith(id_prefix)
            )
        # From the first event produced until the last one is out of ingest.
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await reader.stop()


def main() -> None:
    """Run the benchmark and write bench/results/ingest_throughput.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    with EmbeddedBroker(log_path=state / "broker.log") as broker:
        ceiling = []
        http_rates = []
        topic_rates = []
        for repeat in range(args.repeats):
            prefix = f"b{uuid.uuid4().hex[:6]}-"
            create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
            ceiling.append(
                asyncio.run(broker_produce_rate(broker.bootstrap, f"{prefix}ceiling", args.count))
            )
            port = free_port()
            ingest = ServiceProcess(
                "ingest",
                port,
                service_env(
                    "ingest",
                    broker_url=broker.url,
                    port=port,
                    data_dir=state / prefix,
                    topic_prefix=prefix,
                ),
                state / f"ingest-{repeat}.log",
            )
            ingest.start()
            try:
                ingest.wait_ready(60)
                summary = asyncio.run(
                    run_loadgen(
                        LoadConfig(
                            count=args.count,
                            via="http",
                            ingest_url=ingest.url,
                            batch_size=500,
                            seed=repeat,
                            id_prefix=f"h{repeat}",
                        ),
                        progress=False,
                    )
                )
                http_rates.append(summary.per_second)
                topic_rates.append(
                    asyncio.run(topic_intake_rate(broker.bootstrap, prefix, args.count, repeat))
                )
            finally:
                ingest.stop()
            print(
                f"repeat {repeat + 1}: broker {ceiling[-1]:.0f}/s, http {http_rates[-1]:.0f}/s, "
                f"topic {topic_rates[-1]:.0f}/s"
            )
    result = {
        "count": args.count,
        "repeats": args.repeats,
        "broker_produce_msgs_per_s": median(ceiling),
        "http_batch_msgs_per_s": median(http_rates),
        "topic_intake_msgs_per_s": median(topic_rates),
        "http_over_broker": round(median(http_rates) / median(ceiling), 3),
        "topic_over_broker": round(median(topic_rates) / median(ceiling), 3),
        "raw": {"broker": ceiling, "http": http_rates, "topic": topic_rates},
    }
    print(
        table(
            [
                ("broker produce (ceiling)", result["broker_produce_msgs_per_s"], "1.0"),
                ("ingest HTTP batch", result["http_batch_msgs_per_s"], result["http_over_broker"]),
                (
                    "ingest topic intake",
                    result["topic_intake_msgs_per_s"],
                    result["topic_over_broker"],
                ),
            ],
            ("path", "msgs/s (median)", "÷ broker"),
        )
    )
    write_result("ingest_throughput", result)


if __name__ == "__main__":
    main()
