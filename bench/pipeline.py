"""The whole pipeline in one run: broker ceiling, aggregator alone, loadgen → aggregates
sustained rate with 1 and 2 analyzer workers, and send → visible latency at half that rate.

The 1-worker rate is measured three times in the same run: with the default ONNX
backend, with the flair backend on the same model (``onnx_over_flair_pipeline``), and with
the flair path the analyzer served before model v2, six MiniLM layers
(:func:`bench.common.write_v1_flair_path`; ``onnx_over_v1_flair_path_pipeline``, the
issue's target: 2.5).

    python -m bench.pipeline [--count 3000] [--latency-probes 100] [--broker kafka]

``--broker kafka`` runs it all on a 3-node Apache Kafka cluster (replication factor 3,
``min.insync.replicas=2``) and writes ``pipeline_kafka.json``; the broker's own rates are
then the cluster's, acks=all.

Latency: probe messages sent over HTTP while a background load runs at half the
measured sustained rate; each probe's latency is from the POST until the aggregator's
``/v1/messages/{id}`` view shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.common import (
    add_broker_argument,
    broker_consume_rate,
    broker_produce_rate,
    started_broker,
    table,
    write_result,
    write_v1_flair_path,
)
from moodstream_analyzer.model import DEFAULT_MODEL_DIR
from moodstream_common import topics
from moodstream_common.records import ScoredMessage
from moodstream_dev.broker import Broker, create_topics
from moodstream_dev.loadgen import LoadConfig, expected_live
from moodstream_dev.loadgen import run as run_loadgen
from moodstream_dev.processes import SERVICES, ServiceProcess, free_port, service_env

MODEL = DEFAULT_MODEL_DIR.resolve()
RUNS = (
    ("analyzers_1", 1, "onnx", "served"),
    ("flair_analyzers_1", 1, "flair", "served"),
    ("v1_flair_path_analyzers_1", 1, "flair", "v1_flair_path"),
    ("analyzers_2", 2, "onnx", "served"),
)
"""(result key, analyzer workers, backend, model) of each sustained-rate run."""


def _start(
    broker: Broker,
    state: Path,
    prefix: str,
    analyzers: int,
    extra_env: dict[str, str] | None = None,
) -> dict:
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    services: dict[str, ServiceProcess] = {}
    names = [*SERVICES] + [f"analyzer{i}" for i in range(2, analyzers + 1)]
    for name in names:
        kind = name.rstrip("0123456789")
        port = free_port()
        env = service_env(
            kind,
            broker=broker,
            port=port,
            data_dir=state / prefix,
            topic_prefix=prefix,
            extra={"ANALYZER_MODEL_PATH": str(MODEL), **(extra_env or {})},
        )
        services[name] = ServiceProcess(kind, port, env, state / f"{prefix}{name}.log")
        services[name].start()
    try:
        for service in services.values():
            service.wait_ready(120)
    except BaseException:
        # One that does not come up fails the bench; the others must not outlive it.
        for service in services.values():
            service.stop()
        raise
    return services


def _wait_total(aggregator: str, total: int, timeout: float = 900) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if httpx.get(f"{aggregator}/v1/totals", timeout=10).json()["total"] >= total:
            return time.perf_counter() - started
        time.sleep(0.2)
    raise TimeoutError(f"aggregates did not reach {total}")


def sustained_rate(services: dict, count: int, seed: int) -> float:
    """Events/s from the first send until every message is in the aggregates."""
    config = LoadConfig(
        count=count,
        via="http",
        ingest_url=services["ingest"].url,
        batch_size=200,
        seed=seed,
        id_prefix=f"s{seed}",
    )
    started = time.perf_counter()
    asyncio.run(run_loadgen(config, progress=False))
    _wait_total(services["aggregator"].url, expected_live(config))
    return count / (time.perf_counter() - started)


def aggregator_rate(bootstrap: str, services: dict, prefix: str, count: int) -> float:
    """Scored records/s the aggregator applies (produced straight to ``scored``)."""

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await producer.start()
        now = time.time()
        futures = [
            await producer.send(
                topics.SCORED.name(prefix),
                ScoredMessage(
                    id=f"agg{i}",
                    type="update",
                    event_time=now + i / 1000,
                    received_at=now,
                    text="t",
                    label="positive",
                    score=0.5,
                    hashtags=["bench"],
                    user_id=f"u{i % 50}",
                ).dumps(),
                key=f"agg{i}".encode(),
            )
            for i in range(count)
        ]
        await asyncio.gather(*futures)
        await producer.stop()

    base = httpx.get(f"{services['aggregator'].url}/v1/totals").json()["total"]
    started = time.perf_counter()
    asyncio.run(produce())
    _wait_total(services["aggregator"].url, base + count)
    return count / (time.perf_counter() - started)


def latency(services: dict, rate: float, probes: int) -> list[float]:
    """Send → visible latencies (s) of ``probes`` messages under load at ``rate``."""
    background = LoadConfig(
        count=int(rate * probes * 0.25) + 100,
        rate=rate,
        via="http",
        ingest_url=services["ingest"].url,
        seed=99,
        id_prefix="bg",
    )
    thread = threading.Thread(target=lambda: asyncio.run(run_loadgen(background, progress=False)))
    thread.start()
    results = []
    with httpx.Client(timeout=30) as client:
        for index in range(probes):
            message_id = f"probe_{uuid.uuid4().hex[:8]}_{index}"
            sent = time.perf_counter()
            client.post(
                f"{services['ingest'].url}/v1/messages",
                json={"id": message_id, "text": "probe message #probe"},
            )
            while (
                client.get(f"{services['aggregator'].url}/v1/messages/{message_id}").status_code
                != 200
            ):
                time.sleep(0.005)
            results.append(time.perf_counter() - sent)
            time.sleep(0.25)
    thread.join()
    return results


def main() -> None:
    """Run everything, print a table, write bench/results/pipeline[_kafka].json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3_000)
    parser.add_argument("--latency-probes", type=int, default=100)
    add_broker_argument(parser)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    result: dict[str, Any] = {"count": args.count}
    with started_broker(args.broker, state) as broker:
        create_topics(broker.bootstrap, [topics.RAW], prefix="ceiling-")
        produce = asyncio.run(broker_produce_rate(broker.bootstrap, "ceiling-raw", 20_000))
        consume = asyncio.run(broker_consume_rate(broker.bootstrap, "ceiling-raw", 20_000))
        result["broker"] = {
            "produce_msgs_per_s": round(produce),
            "consume_msgs_per_s": round(consume),
        }
        (state / "v1-flair-path").mkdir()
        v1_model = write_v1_flair_path(state / "v1-flair-path")
        for run_index, (key, analyzers, backend, model) in enumerate(RUNS, start=1):
            prefix = f"p{run_index}-"
            model_path = MODEL if model == "served" else v1_model
            services = _start(
                broker,
                state,
                prefix,
                analyzers,
                {"ANALYZER_BACKEND": backend, "ANALYZER_MODEL_PATH": str(model_path)},
            )
            try:
                rate = sustained_rate(services, args.count, seed=run_index)
                entry: dict[str, object] = {
                    "sustained_msgs_per_s": round(rate, 1),
                    "backend": backend,
                    "analyzers": analyzers,
                    "model": model,
                }
                if key == "analyzers_1":
                    entry["aggregator_records_per_s"] = round(
                        aggregator_rate(broker.bootstrap, services, prefix, args.count), 1
                    )
                    lat = latency(services, rate / 2, args.latency_probes)
                    entry["latency_at_half_rate_s"] = {
                        "rate": round(rate / 2, 1),
                        "p50": round(statistics.median(lat), 3),
                        "p99": round(sorted(lat)[max(0, int(len(lat) * 0.99) - 1)], 3),
                        "probes": len(lat),
                    }
                result[key] = entry
            finally:
                for service in services.values():
                    service.stop()
            print(f"{key}: {result[key]}")
    one = result["analyzers_1"]
    rows = [
        ("broker produce", result["broker"]["produce_msgs_per_s"], ""),
        ("broker consume", result["broker"]["consume_msgs_per_s"], ""),
        ("aggregator alone (scored → tables)", one["aggregator_records_per_s"], ""),
        ("pipeline, 1 analyzer (onnx)", one["sustained_msgs_per_s"], ""),
        (
            "pipeline, 1 analyzer (flair)",
            result["flair_analyzers_1"]["sustained_msgs_per_s"],
            "",
        ),
        (
            "pipeline, 1 analyzer (v1 flair path)",
            result["v1_flair_path_analyzers_1"]["sustained_msgs_per_s"],
            "",
        ),
        ("pipeline, 2 analyzers", result["analyzers_2"]["sustained_msgs_per_s"], ""),
    ]
    result["pipeline_over_broker_produce"] = round(
        one["sustained_msgs_per_s"] / result["broker"]["produce_msgs_per_s"], 4
    )
    result["onnx_over_flair_pipeline"] = round(
        one["sustained_msgs_per_s"]
        / result["flair_analyzers_1"]["sustained_msgs_per_s"],
        2,
    )
    result["onnx_over_v1_flair_path_pipeline"] = round(
        one["sustained_msgs_per_s"]
        / result["v1_flair_path_analyzers_1"]["sustained_msgs_per_s"],
        2,
    )
    result["target_onnx_over_v1_flair_path_pipeline"] = 2.5
    print(table(rows, ("path", "msgs/s", "")))
    print(f"pipeline, onnx ÷ flair backend (same model): {result['onnx_over_flair_pipeline']}")
    print(
        f"pipeline, onnx ÷ v1 flair path: {result['onnx_over_v1_flair_path_pipeline']} (target 2.5)"
    )
    print(f"latency at half rate: {one['latency_at_half_rate_s']}")
    print(f"pipeline ÷ broker produce: {result['pipeline_over_broker_produce']}")
    write_result("pipeline", result, broker=args.broker)


if __name__ == "__main__":
    main()
