"""Valid intake rate with and without a flood of hostile input next to it.

Each repeat starts a fresh ingest and sends valid events as fast as it takes them
(HTTP batches of 500), once alone and once while the hostile corpus
(tests/corpus/hostile.py) is sent over and over through both doors: HTTP, one body
per request, and the input topic. Reports the valid rate in both cases, their ratio
and how many hostile records ingest handled meanwhile.

    python -m bench.hostile_load [--count 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from bench.common import median, table, write_result
from moodstream_common import topics
from moodstream_dev.broker import EmbeddedBroker, create_topics
from moodstream_dev.loadgen import LoadConfig
from moodstream_dev.loadgen import run as run_loadgen
from moodstream_dev.processes import ServiceProcess, free_port, service_env
from tests.corpus.hostile import HOSTILE_BODIES


def _flood_http(url: str, stop: threading.Event, sent: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            for body in HOSTILE_BODIES:
                if stop.is_set():
                    return
                client.post("/v1/messages", content=body,
                            headers={"content-type": "application/json"})
                sent[0] += 1


def _flood_topic(bootstrap: str, topic: str, stop: threading.Event, sent: list[int]) -> None:
    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await producer.start()
        try:
            while not stop.is_set():
                for body in HOSTILE_BODIES:
                    await producer.send(topic, body)
                    sent[0] += 1
                await producer.flush()
                await asyncio.sleep(0.1)
        finally:
            await producer.stop()

    asyncio.run(produce())


def _valid_rate(url: str, count: int, seed: int) -> float:
    config = LoadConfig(count=count, via="http", ingest_url=url, batch_size=500, seed=seed,
                        id_prefix=f"v{seed}")
    return asyncio.run(run_loadgen(config, progress=False)).per_second


def main() -> None:
    """Run the benchmark and write bench/results/hostile_load.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    clean, flooded, hostile_rates = [], [], []
    with EmbeddedBroker(log_path=state / "broker.log") as broker:
        for repeat in range(args.repeats):
            prefix = f"h{uuid.uuid4().hex[:6]}-"
            create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
            port = free_port()
            ingest = ServiceProcess(
                "ingest", port,
                service_env("ingest", broker=broker, port=port,
                            data_dir=state / prefix, topic_prefix=prefix),
                state / f"ingest-{repeat}.log",
            )
            ingest.start()
            try:
                ingest.wait_ready(60)
                clean.append(_valid_rate(ingest.url, args.count, seed=2 * repeat))
                stop = threading.Event()
                http_sent, topic_sent = [0], [0]
                floods = [
                    threading.Thread(target=_flood_http, args=(ingest.url, stop, http_sent)),
                    threading.Thread(
                        target=_flood_topic,
                        args=(broker.bootstrap, topics.EVENTS.name(prefix), stop, topic_sent),
                    ),
                ]
                for flood in floods:
                    flood.start()
                t0 = time.perf_counter()
                flooded.append(_valid_rate(ingest.url, args.count, seed=2 * repeat + 1))
                seconds = time.perf_counter() - t0
                stop.set()
                for flood in floods:
                    flood.join(timeout=60)
                hostile_rates.append((http_sent[0] + topic_sent[0]) / seconds)
                if not ingest.ready():
                    raise RuntimeError("ingest not ready after the flood")
            finally:
                ingest.stop()
    result = {
        "count": args.count,
        "repeats": args.repeats,
        "valid_msg_per_s_clean": round(median(clean), 1),
        "valid_msg_per_s_with_hostile_flood": round(median(flooded), 1),
        "ratio": round(median(flooded) / median(clean), 2),
        "hostile_records_per_s_sent": round(median(hostile_rates), 1),
        "runs": {"clean": clean, "flooded": flooded, "hostile_rates": hostile_rates},
    }
    print(
        table(
            [
                ("valid, alone", result["valid_msg_per_s_clean"]),
                ("valid, beside the hostile flood", result["valid_msg_per_s_with_hostile_flood"]),
                ("ratio", result["ratio"]),
                ("hostile records/s sent meanwhile", result["hostile_records_per_s_sent"]),
            ],
            ("ingest HTTP batches (medians)", "msg/s"),
        )
    )
    write_result("hostile_load", result)


if __name__ == "__main__":
    main()
