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

from bench.common import (
    broker_produce_rate,
    median,
    reader_from_start,
    table,
    us_per_call,
    write_result,
)
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


def detection_cost_us(count: int = 5_000) -> float:
    """Median µs to detect the language of one loadgen text, in this process (3 passes)."""
    from moodstream_ingest.language import detect, load

    load()
    texts = [
        event["text"] for event in generate(LoadConfig(count=count, seed=7)) if "text" in event
    ]
    return us_per_call(detect, texts)


def measure(broker, state: Path, repeat: int, count: int, *, detect_language: bool) -> tuple:
    """One ingest process on fresh topics: (http batch msgs/s, topic intake msgs/s)."""
    prefix = f"b{uuid.uuid4().hex[:6]}-"
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
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
            extra={"INGEST_DETECT_LANGUAGE": str(detect_language).lower()},
        ),
        state / f"ingest-{repeat}-{detect_language}.log",
    )
    ingest.start()
    try:
        ingest.wait_ready(60)
        summary = asyncio.run(
            run_loadgen(
                LoadConfig(
                    count=count,
                    via="http",
                    ingest_url=ingest.url,
                    batch_size=500,
                    seed=repeat,
                    id_prefix=f"h{repeat}",
                ),
                progress=False,
            )
        )
        topic = asyncio.run(topic_intake_rate(broker.bootstrap, prefix, count, repeat))
        return summary.per_second, topic
    finally:
        ingest.stop()


def main() -> None:
    """Run the benchmark and write bench/results/ingest_throughput.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    with EmbeddedBroker(log_path=state / "broker.log") as broker:
        ceiling = []
        http_rates, topic_rates = [], []
        # The same ingest with language detection off, interleaved, for its cost.
        http_off, topic_off = [], []
        for repeat in range(args.repeats):
            ceiling.append(
                asyncio.run(
                    broker_produce_rate(
                        broker.bootstrap, f"c{repeat}{uuid.uuid4().hex[:6]}", args.count
                    )
                )
            )
            http, topic = measure(broker, state, repeat, args.count, detect_language=True)
            http_rates.append(http)
            topic_rates.append(topic)
            http, topic = measure(broker, state, repeat, args.count, detect_language=False)
            http_off.append(http)
            topic_off.append(topic)
            print(
                f"repeat {repeat + 1}: broker {ceiling[-1]:.0f}/s, http {http_rates[-1]:.0f}/s "
                f"(no detection {http_off[-1]:.0f}/s), topic {topic_rates[-1]:.0f}/s "
                f"(no detection {topic_off[-1]:.0f}/s)"
            )
    detect_us = detection_cost_us()
    result = {
        "count": args.count,
        "repeats": args.repeats,
        "broker_produce_msgs_per_s": median(ceiling),
        "http_batch_msgs_per_s": median(http_rates),
        "topic_intake_msgs_per_s": median(topic_rates),
        "http_over_broker": round(median(http_rates) / median(ceiling), 3),
        "topic_over_broker": round(median(topic_rates) / median(ceiling), 3),
        "language_detection": {
            "http_batch_msgs_per_s_without": median(http_off),
            "topic_intake_msgs_per_s_without": median(topic_off),
            # The throughput detection costs each door: 1 - with ÷ without (target ≤ 0.05).
            "http_cost": round(1 - median(http_rates) / median(http_off), 3),
            "topic_cost": round(1 - median(topic_rates) / median(topic_off), 3),
            "detect_us_per_text": round(detect_us, 2),
            # One core's share of the HTTP door's per-message time spent detecting.
            "detect_share_of_http_time": round(detect_us * 1e-6 * median(http_rates), 3),
        },
        "raw": {
            "broker": ceiling,
            "http": http_rates,
            "topic": topic_rates,
            "http_without_detection": http_off,
            "topic_without_detection": topic_off,
        },
    }
    detection = result["language_detection"]
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
    print(
        f"language detection: {detection['detect_us_per_text']} µs/text; costs the HTTP door "
        f"{detection['http_cost']:.1%} and the topic door {detection['topic_cost']:.1%} "
        "of their throughput (target ≤ 5 %)"
    )
    write_result("ingest_throughput", result)


if __name__ == "__main__":
    main()
