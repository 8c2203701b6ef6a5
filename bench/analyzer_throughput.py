"""The analyzer service topic-to-topic against the model alone, in one run.

    python -m bench.analyzer_throughput [--count 4000] [--repeats 3] [--backend onnx]

Model alone: ``predict_batch`` at batch sizes 1, 32, 128 and at the service's batch
size, in this process, called as the service calls it (``call_plan``: for onnx, one
single-threaded call per core at once). Service: ``count`` raw records produced to
``raw`` at once; its steady rate is the records scored from the first scored batch
readable in ``scored`` to the last (the first fetch, join and batch are a fixed cost,
not a rate).
Reports analyzer ÷ model-alone (at the service batch size; target ≥ 0.85) and batched ÷
one-at-a-time (what a naive worker calling the model per message gets).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import median, table, write_result
from bench.model_throughput import measure
from moodstream_analyzer.model import BACKENDS, call_plan, load_model
from moodstream_analyzer.settings import Settings as AnalyzerSettings
from moodstream_common import topics
from moodstream_common.records import RawMessage
from moodstream_dev.broker import EmbeddedBroker, create_topics
from moodstream_dev.processes import local_service
from moodstream_dev.textmix import make_text


def _texts(count: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    return [make_text(rng)[0] for _ in range(count)]


async def _service_rate(bootstrap: str, prefix: str, texts: list[str]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    consumer = AIOKafkaConsumer(
        topics.SCORED.name(prefix),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    await producer.start()
    await consumer.start()
    try:
        started = time.perf_counter()
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
        # Steady state: from the first scored records to the last, so the fixed cost of
        # the first fetch and the first batch does not count against a short run.
        seen, first_seen, first_at = 0, 0, 0.0
        while seen < len(texts) and time.perf_counter() - started < 600:
            batch = await consumer.getmany(timeout_ms=1_000)
            got = sum(len(records) for records in batch.values())
            if got and not seen:
                first_seen, first_at = got, time.perf_counter()
            seen += got
        return (seen - first_seen) / (time.perf_counter() - first_at)
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    """Measure, print a table, write bench/results/analyzer_throughput.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=4_000)
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
    for _ in range(args.repeats):
        for batch in alone:
            total = 64 if batch == 1 else 512
            alone[batch].append(measure(model, texts, batch, total, plan.calls))
    del model

    state = Path(tempfile.mkdtemp(prefix="bench-analyzer-"))
    service_rates = []
    with EmbeddedBroker(log_path=state / "broker.log") as broker:
        for repeat in range(args.repeats):
            prefix = f"a{uuid.uuid4().hex[:6]}-"
            create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
            analyzer = local_service(
                "analyzer", broker.url, state / prefix, topic_prefix=prefix,
                extra={"ANALYZER_MODEL_PATH": str(args.model.resolve()),
                       "ANALYZER_BACKEND": args.backend},
            )
            analyzer.start()
            try:
                analyzer.wait_ready(120)
                service_rates.append(asyncio.run(_service_rate(broker.bootstrap, prefix, texts)))
            finally:
                analyzer.stop()
            print(f"repeat {repeat + 1}: analyzer service {service_rates[-1]:.0f} texts/s")

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
        "analyzer_over_model_alone": round(service / medians[service_batch], 3),
        "target_analyzer_over_model_alone": 0.85,
        "batched_over_one_at_a_time": round(medians[service_batch] / medians[1], 2),
        "raw": {"model_alone": {str(b): v for b, v in alone.items()}, "service": service_rates},
    }
    rows = [(f"model alone, batch {b}", m, "") for b, m in sorted(medians.items())]
    rows.append(
        (
            "analyzer service (topic to topic)",
            service,
            f"{result['analyzer_over_model_alone']} of model alone",
        )
    )
    print(table(rows, ("path", "texts/s (median)", "ratio")))
    print(
        f"batched (batch {service_batch}) ÷ one-at-a-time: {result['batched_over_one_at_a_time']}x"
    )
    write_result("analyzer_throughput", result)


if __name__ == "__main__":
    main()
