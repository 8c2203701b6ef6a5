"""``make bench``: every benchmark in one run; results in bench/results/*.json.

Pipeline ÷ model-alone and pipeline ÷ broker ratios are printed at the end from the
JSON files this run wrote, then the broker-bound figures side by side: the embedded
broker against a 3-node Apache Kafka cluster (the ``--broker kafka`` steps, skipped with
one line saying why where Kafka cannot run).
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import KAFKA_NODES, RESULTS, result_name, table
from moodstream_dev.kafka import unavailable_reason

KAFKA = ["--broker", "kafka"]
STEPS = [
    ["bench.model_accuracy"],
    ["bench.model_throughput"],
    ["bench.mixed_length"],
    ["bench.ingest_throughput"],
    ["bench.ingest_throughput", *KAFKA],
    ["bench.analyzer_throughput"],
    ["bench.aggregator_throughput"],
    ["bench.aggregator_throughput", *KAFKA],
    ["bench.pipeline"],
    ["bench.pipeline", *KAFKA],
    ["bench.hostile_load"],
    ["bench.hostile_pipeline"],
    ["bench.broker_watermarks"],
    ["bench.fetch_wait"],
    ["bench.image_size"],
    # The analyzer's memory after 10 minutes at load (ONNX backend).
    ["bench.soak", "--minutes", "10", "--rate", "150", "--result-name", "soak_memory"],
]


def main() -> int:
    """Run each benchmark as its own process (clean memory and CPU for each)."""
    kafka_skipped = unavailable_reason()
    for step in STEPS:
        if kafka_skipped and step[-len(KAFKA) :] == KAFKA:
            continue
        print(f"\n=== {' '.join(step)} ===", flush=True)
        subprocess.run([sys.executable, "-m", *step], check=True)
    pipeline = json.loads((RESULTS / "pipeline.json").read_text())
    analyzer = json.loads((RESULTS / "analyzer_throughput.json").read_text())
    batch = str(analyzer["service_batch_size"])
    one = pipeline["analyzers_1"]["sustained_msgs_per_s"]
    print("\n=== ratios (this run) ===")
    print(
        f"pipeline ÷ model alone (batch {batch}): "
        f"{one / analyzer['model_alone_texts_per_s'][batch]:.3f}"
    )
    print(f"pipeline ÷ broker produce: {pipeline['pipeline_over_broker_produce']}")
    print(f"2 analyzers ÷ 1 analyzer: {pipeline['analyzers_2']['sustained_msgs_per_s'] / one:.2f}")
    print(f"pipeline, onnx ÷ flair backend (same model): {pipeline['onnx_over_flair_pipeline']}")
    print(f"pipeline, onnx ÷ v1 flair path: {pipeline['onnx_over_v1_flair_path_pipeline']}")
    model = json.loads((RESULTS / "model_throughput.json").read_text())
    print(f"model alone, onnx ÷ flair (same model): {model['onnx_over_flair_at_analyzer_batch']}")
    print(
        f"model alone, onnx ÷ v1 flair path: {model['onnx_over_v1_flair_path_at_analyzer_batch']}"
    )
    print_stages(pipeline, analyzer)
    print_brokers(kafka_skipped)
    return 0


def broker_figures(broker: str) -> dict[str, float]:
    """The figures that depend on the broker (msgs/s), from this run's result files on
    ``broker`` ("embedded" or "kafka")."""

    def read(name: str) -> dict:
        return json.loads((RESULTS / f"{result_name(name, broker)}.json").read_text())

    pipeline, ingest = read("pipeline"), read("ingest_throughput")
    return {
        "broker produce": pipeline["broker"]["produce_msgs_per_s"],
        "ingest, HTTP batches": ingest["http_batch_msgs_per_s"],
        "ingest, input topic": ingest["topic_intake_msgs_per_s"],
        "aggregator": read("aggregator_throughput")["batched"]["records_per_s"],
        "pipeline, 1 analyzer": pipeline["analyzers_1"]["sustained_msgs_per_s"],
    }


def print_brokers(kafka_skipped: str | None) -> None:
    """The broker-bound figures on each broker, with Kafka ÷ embedded."""
    title = f"embedded vs Kafka ({KAFKA_NODES} nodes, RF {KAFKA_NODES})"
    if kafka_skipped:
        print(f"\n{title}: Kafka column skipped: {kafka_skipped}")
        return
    embedded, kafka = broker_figures("embedded"), broker_figures("kafka")
    rows = [
        (name, f"{rate:.0f}", f"{kafka[name]:.0f}", f"{kafka[name] / rate:.2f}")
        for name, rate in embedded.items()
    ]
    print(f"\n=== {title}, this run ===")
    print(table(rows, ("msgs/s", "embedded", "kafka", "kafka ÷ embedded")))


def stage_rates(pipeline: dict, analyzer: dict) -> dict[str, float]:
    """Each stage's measured rate alone (msgs/s), from this run's result files."""
    figures = broker_figures("embedded")
    return {
        "ingest, HTTP batches": figures["ingest, HTTP batches"],
        "ingest, input topic": figures["ingest, input topic"],
        "analyzer service": analyzer["analyzer_service_texts_per_s"],
        "aggregator": figures["aggregator"],
    }


def print_stages(pipeline: dict, analyzer: dict) -> None:
    """Every stage's rate ÷ the broker's produce rate, and the stage that bounds the
    pipeline (the slowest on the path loadgen → ingest HTTP → analyzer → aggregator)."""
    broker = pipeline["broker"]["produce_msgs_per_s"]
    rates = stage_rates(pipeline, analyzer)
    print("\n=== stages ÷ broker produce (this run) ===")
    for stage, rate in rates.items():
        print(f"{stage:<24} {rate:>10.0f} msgs/s  {rate / broker:.4f} of broker")
    on_path = {k: v for k, v in rates.items() if k != "ingest, input topic"}
    bound = min(on_path, key=on_path.__getitem__)
    one = pipeline["analyzers_1"]["sustained_msgs_per_s"]
    print(
        f"pipeline {one:.0f} msgs/s = {one / rates[bound]:.2f} of its slowest stage, "
        f"the {bound} ({rates[bound]:.0f} msgs/s)"
    )


if __name__ == "__main__":
    sys.exit(main())
