"""``make bench``: every benchmark in one run; results in bench/results/*.json.

Pipeline ÷ model-alone and pipeline ÷ broker ratios are printed at the end from the
JSON files this run wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
STEPS = [
    ["bench.model_accuracy"],
    ["bench.model_throughput"],
    ["bench.mixed_length"],
    ["bench.ingest_throughput"],
    ["bench.analyzer_throughput"],
    ["bench.pipeline"],
    ["bench.hostile_load"],
    ["bench.hostile_pipeline"],
    ["bench.broker_watermarks"],
    ["bench.image_size"],
    # The analyzer's memory after 10 minutes at load (ONNX backend).
    ["bench.soak", "--minutes", "10", "--rate", "150", "--result-name", "soak_memory"],
]


def main() -> int:
    """Run each benchmark as its own process (clean memory and CPU for each)."""
    for step in STEPS:
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
    print(f"pipeline, onnx ÷ flair backend: {pipeline['onnx_over_flair_pipeline']}")
    model = json.loads((RESULTS / "model_throughput.json").read_text())
    print(f"model alone, onnx ÷ flair: {model['onnx_over_flair_at_analyzer_batch']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
