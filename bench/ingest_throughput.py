"""Ingest intake rate over HTTP batches and from the input topic, against the broker's
own produce rate measured in the same run (the ceiling).

    python -m bench.ingest_throughput [--count 20000] [--repeats 3] [--broker kafka]

``--broker kafka`` runs it all on a 3-node Apache Kafka cluster (replication factor 3)
and writes ``ingest_throughput_kafka.json``.
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
    add_broker_argument,
    broker_produce_rate,
    median,
    reader_from_start,
    started_broker,
    table,
    us_per_call,
    write_result,
)
from moodstream_common import topics
from moodstream_dev.broker import Broker, create_topics
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


def worker_parent_cpu_us(count: int = 5_000, passes: int = 3) -> float:
    """Median CPU µs this process spends per loadgen text when the language worker
    detects it (submitting and reading back chunks of 500-text batches); the child's own
    CPU is not counted."""
    from moodstream_ingest.language_worker import LanguageWorker

    texts = [
        event["text"] for event in generate(LoadConfig(count=count, seed=7)) if "text" in event
    ]
    batches = [texts[i : i + 500] for i in range(0, len(texts), 500)]

    async def run() -> list[float]:
        worker = LanguageWorker(min_batch=1)
        await worker.start()
        times = []
        try:
            for _ in range(passes):
                started = time.process_time()
                for batch in batches:
                    await worker.detect_many(batch)
                times.append((time.process_time() - started) / len(texts) * 1e6)
        finally:
            await worker.stop()
        return times

    return median(asyncio.run(run()))


DETECTION_MODES = {
    # name: (INGEST_DETECT_LANGUAGE, INGEST_LANGUAGE_WORKER)
    "worker": ("true", "true"),  # the default: large batches detected in a child process
    "inline": ("true", "false"),  # every text detected on ingest's event loop
    "off": ("false", "false"),
}


def measure(broker: Broker, state: Path, repeat: int, count: int, *, detection: str) -> tuple:
    """One ingest process on fresh topics: (http batch msgs/s, topic intake msgs/s)."""
    detect_language, worker = DETECTION_MODES[detection]
    prefix = f"b{uuid.uuid4().hex[:6]}-"
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    port = free_port()
    ingest = ServiceProcess(
        "ingest",
        port,
        service_env(
            "ingest",
            broker=broker,
            port=port,
            data_dir=state / prefix,
            topic_prefix=prefix,
            extra={"INGEST_DETECT_LANGUAGE": detect_language, "INGEST_LANGUAGE_WORKER": worker},
        ),
        state / f"ingest-{repeat}-{detection}.log",
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
    """Run the benchmark and write bench/results/ingest_throughput[_kafka].json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    add_broker_argument(parser)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    ceiling = []
    # The same ingest in each detection mode, interleaved, for detection's cost.
    rates: dict[str, dict[str, list[float]]] = {
        mode: {"http": [], "topic": []} for mode in DETECTION_MODES
    }
    with started_broker(args.broker, state) as broker:
        for repeat in range(args.repeats):
            # Created first, shaped as ``raw``: a topic the first send creates would put
            # its creation (seconds on a Kafka cluster) into the ceiling's time.
            ceiling_prefix = f"c{repeat}{uuid.uuid4().hex[:6]}-"
            create_topics(broker.bootstrap, [topics.RAW], prefix=ceiling_prefix)
            ceiling.append(
                asyncio.run(
                    broker_produce_rate(
                        broker.bootstrap, topics.RAW.name(ceiling_prefix), args.count
                    )
                )
            )
            for mode in DETECTION_MODES:
                http, topic = measure(broker, state, repeat, args.count, detection=mode)
                rates[mode]["http"].append(http)
                rates[mode]["topic"].append(topic)
            print(
                f"repeat {repeat + 1}: broker {ceiling[-1]:.0f}/s; "
                + "; ".join(
                    f"{mode}: http {r['http'][-1]:.0f}/s, topic {r['topic'][-1]:.0f}/s"
                    for mode, r in rates.items()
                )
            )
    detect_us = detection_cost_us()
    parent_us = worker_parent_cpu_us()
    med = {mode: {door: median(v) for door, v in r.items()} for mode, r in rates.items()}
    result = {
        "count": args.count,
        "repeats": args.repeats,
        "broker_produce_msgs_per_s": median(ceiling),
        "http_batch_msgs_per_s": med["worker"]["http"],
        "topic_intake_msgs_per_s": med["worker"]["topic"],
        "http_over_broker": round(med["worker"]["http"] / median(ceiling), 3),
        "topic_over_broker": round(med["worker"]["topic"] / median(ceiling), 3),
        "topic_over_http": round(med["worker"]["topic"] / med["worker"]["http"], 3),
        "language_detection": {
            "http_batch_msgs_per_s_without": med["off"]["http"],
            "topic_intake_msgs_per_s_without": med["off"]["topic"],
            "http_batch_msgs_per_s_inline": med["inline"]["http"],
            "topic_intake_msgs_per_s_inline": med["inline"]["topic"],
            # The throughput detection costs each door: 1 - with ÷ without (target ≤ 0.05),
            # as served (the worker) and with every text detected on the event loop.
            "http_cost": round(1 - med["worker"]["http"] / med["off"]["http"], 3),
            "topic_cost": round(1 - med["worker"]["topic"] / med["off"]["topic"], 3),
            "http_cost_inline": round(1 - med["inline"]["http"] / med["off"]["http"], 3),
            "topic_cost_inline": round(1 - med["inline"]["topic"] / med["off"]["topic"], 3),
            "detect_us_per_text": round(detect_us, 2),
            # What detecting a text costs ingest's own process with the worker on.
            "worker_parent_cpu_us_per_text": round(parent_us, 2),
            # One core's share of the HTTP door's per-message time spent detecting.
            "detect_share_of_http_time": round(detect_us * 1e-6 * med["worker"]["http"], 3),
        },
        "raw": {"broker": ceiling, **{
            f"{door}_{mode}": r[door] for mode, r in rates.items() for door in ("http", "topic")
        }},
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
        f"language detection: {detection['detect_us_per_text']} µs/text inline, "
        f"{detection['worker_parent_cpu_us_per_text']} µs/text of ingest's own CPU with the "
        "worker; costs the HTTP door "
        f"{detection['http_cost']:.1%} and the topic door {detection['topic_cost']:.1%} "
        f"of their throughput (target ≤ 5 %); inline: {detection['http_cost_inline']:.1%} and "
        f"{detection['topic_cost_inline']:.1%}. Topic door ÷ HTTP door: "
        f"{result['topic_over_http']} (target ≥ 1.0)"
    )
    write_result("ingest_throughput", result, broker=args.broker)


if __name__ == "__main__":
    main()
