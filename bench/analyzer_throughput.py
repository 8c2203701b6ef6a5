"""The analyzer service topic-to-topic against the model alone, in one run.

    python -m bench.analyzer_throughput [--count 4000] [--repeats 3] [--backend onnx]

Model alone: ``predict_batch`` at batch sizes 1, 32, 128 and at the service's batch
size, in this process, called as the service calls it (``call_plan``: for onnx, one
single-threaded call per core at once, and one spare); at the service batch size the
better of that and one call per core. Service: ``count`` raw records put on ``raw``
before the analyzer starts; once its ``/metrics`` counts them all acknowledged on
``scored``, ``scored`` is read (every record must be there) and the steady rate is
taken from the records' timestamps, the moment the analyzer sent each: from the end of
the first batch taken from ``raw`` to the last record (the first fetch, join and batch
are a fixed cost, not a rate). No reader of the bench's own runs during the
measurement.
Each repeat measures the model alone, the service, and the model alone again (the mean
of the two is the service's model alone); reports the median over repeats
of analyzer ÷ model-alone (at the service batch size; target ≥ 0.85) and batched ÷
one-at-a-time (what a naive worker calling the model per message gets).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from bench.common import median, table, write_result
from bench.model_throughput import measure
from moodstream_analyzer.model import BACKENDS, SentimentModel, call_plan, load_model
from moodstream_analyzer.settings import Settings as AnalyzerSettings
from moodstream_common import topics
from moodstream_common.records import RawMessage
from moodstream_dev.broker import EmbeddedBroker, create_topics
from moodstream_dev.processes import ServiceProcess, local_service
from moodstream_dev.textmix import make_text


def _texts(count: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    return [make_text(rng)[0] for _ in range(count)]


async def _produce(bootstrap: str, prefix: str, texts: list[str]) -> None:
    """Put one raw update per text on ``raw``, acknowledged, before the analyzer starts."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        now = time.time()
        futures = []
        for index, text in enumerate(texts):
            record = RawMessage(
                id=f"b{index}", type="update", text=text, event_time=now, received_at=now
            )
            futures.append(
                await producer.send(topics.RAW.name(prefix), record.dumps(), key=record.id.encode())
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _scored_so_far(analyzer_url: str) -> float:
    """Records the analyzer has on ``scored``, acknowledged (its own counter)."""
    text = httpx.get(f"{analyzer_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "moodstream_messages_out_total"
    )


def _wait_until_scored(analyzer_url: str, count: int) -> None:
    """Return once the analyzer has ``count`` records acknowledged on ``scored``.

    Its ``/metrics`` is read once a second only: rendering and parsing it every 50 ms
    took 40 % of a core from the run being measured.
    """
    deadline = time.perf_counter() + 600
    while _scored_so_far(analyzer_url) < count:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"analyzer scored fewer than {count} records in 600 s")
        time.sleep(1.0)


async def _send_times(bootstrap: str, prefix: str, count: int) -> dict[str, int]:
    """Each message id on ``scored`` with its record's timestamp (ms, when the analyzer
    sent it), read once the run is over, so no reader competes with the analyzer."""
    consumer = AIOKafkaConsumer(
        topics.SCORED.name(prefix),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    sent: dict[str, int] = {}
    try:
        deadline = time.perf_counter() + 120
        while len(sent) < count and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=1_000)
            for records in batch.values():
                for record in records:
                    if record.key:
                        sent.setdefault(record.key.decode(), record.timestamp)
    finally:
        await consumer.stop()
    return sent


def steady_rate(send_times_ms: list[int], skip: int) -> float:
    """Records per second from the ``skip``-th record sent to the last.

    The first ``skip`` records (the first batch taken from ``raw``) are left out: the
    first fetch, join and batch are a fixed cost, not a rate.
    """
    times = sorted(send_times_ms)
    return (len(times) - skip) / ((times[-1] - times[skip - 1]) / 1000)


def _service_rate(
    analyzer: ServiceProcess, bootstrap: str, prefix: str, texts: list[str], skip: int
) -> float:
    """The analyzer's steady rate on a backlog of ``texts`` already on ``raw``, from
    the send times of its records on ``scored``; every text's record must be there."""
    asyncio.run(_produce(bootstrap, prefix, texts))
    analyzer.start()
    try:
        analyzer.wait_ready(120)
        _wait_until_scored(analyzer.url, len(texts))
    finally:
        analyzer.stop()
    sent = asyncio.run(_send_times(bootstrap, prefix, len(texts)))
    if len(sent) < len(texts):
        raise RuntimeError(f"{len(texts) - len(sent)} of {len(texts)} records never reached scored")
    return steady_rate(list(sent.values()), skip)


def _model_alone(
    model: SentimentModel, texts: list[str], batch: int, calls: int, cores: int
) -> tuple[float, float]:
    """The model alone at ``batch``: called as served (``calls`` at once), then one call
    per core. The ratio takes the better of the two, so a spare call that only helps
    the service cannot flatter it."""
    return measure(model, texts, batch, 2048, calls), measure(model, texts, batch, 2048, cores)


def main() -> None:
    """Measure, print a table, write bench/results/analyzer_throughput.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=6_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", type=Path, default=AnalyzerSettings().model_path)
    parser.add_argument("--backend", choices=BACKENDS, default=AnalyzerSettings().backend)
    args = parser.parse_args()
    service_batch = AnalyzerSettings().batch_size
    texts = _texts(args.count, seed=1)

    plan = call_plan(args.backend)
    model = load_model(args.model, backend=args.backend, threads=plan.threads)
    model.predict_batch(texts[:8])  # warm-up
    alone: dict[int, list[float]] = {1: [], 32: [], 128: [], service_batch: []}
    state = Path(tempfile.mkdtemp(prefix="bench-analyzer-"))
    service_rates: list[float] = []
    ratios: list[float] = []
    alone_per_core: list[float] = []
    cores = os.cpu_count() or 1
    with EmbeddedBroker(log_path=state / "broker.log") as broker:
        # Each repeat measures the model alone just before and just after the service,
        # and the ratio is taken within the repeat: this machine's speed swings by a
        # quarter within a minute, and the service's neighbours share most of it.
        for repeat in range(args.repeats):
            for batch in alone:
                total = 64 if batch == 1 else 512
                alone[batch].append(measure(model, texts, batch, total, plan.calls))
            before = _model_alone(model, texts, service_batch, plan.calls, cores)
            prefix = f"a{uuid.uuid4().hex[:6]}-"
            create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
            analyzer = local_service(
                "analyzer", broker, state / prefix, topic_prefix=prefix,
                extra={"ANALYZER_MODEL_PATH": str(args.model.resolve()),
                       "ANALYZER_BACKEND": args.backend},
            )
            service_rates.append(_service_rate(
                analyzer, broker.bootstrap, prefix, texts, AnalyzerSettings().stream_batch_size
            ))
            after = _model_alone(model, texts, service_batch, plan.calls, cores)
            alone_per_core.append((before[1] + after[1]) / 2)
            alone[service_batch][-1] = (max(before) + max(after)) / 2
            ratios.append(service_rates[-1] / alone[service_batch][-1])
            print(f"repeat {repeat + 1}: model alone {alone[service_batch][-1]:.0f}, "
                  f"analyzer service {service_rates[-1]:.0f} texts/s ({ratios[-1]:.2f})")
    del model

    medians = {batch: median(values) for batch, values in alone.items()}
    service = median(service_rates)
    result = {
        "backend": args.backend,
        "count": args.count,
        "repeats": args.repeats,
        "service_batch_size": service_batch,
        "call_plan": {"calls": plan.calls, "threads_per_call": plan.threads},
        "model_alone_texts_per_s": {str(b): m for b, m in medians.items()},
        "analyzer_service_texts_per_s": service,
        "analyzer_over_model_alone": round(median(ratios), 3),
        "analyzer_over_model_alone_per_repeat": [round(ratio, 3) for ratio in ratios],
        "target_analyzer_over_model_alone": 0.85,
        "batched_over_one_at_a_time": round(medians[service_batch] / medians[1], 2),
        "raw": {
            "model_alone": {str(b): v for b, v in alone.items()},
            f"model_alone_{service_batch}_one_call_per_core": alone_per_core,
            "service": service_rates,
        },
    }
    rows = [(f"model alone, batch {b}", m, "") for b, m in sorted(medians.items())]
    rows.append(
        (
            "analyzer service (topic to topic)",
            service,
            f"{result['analyzer_over_model_alone']} of model alone (median of repeats)",
        )
    )
    print(table(rows, ("path", "texts/s (median)", "ratio")))
    print(
        f"batched (batch {service_batch}) ÷ one-at-a-time: {result['batched_over_one_at_a_time']}x"
    )
    write_result("analyzer_throughput", result)


if __name__ == "__main__":
    main()
